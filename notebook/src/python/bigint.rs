//! [`BigUint`]: unsigned integers of any size, for the YAML integers PyYAML
//! reads into exact Python ints.

/// Unsigned big integer in base 10^9 limbs, least significant first: just
/// enough arithmetic for YAML's binary, octal, hex and base-60 integers,
/// which PyYAML turns into exact Python ints of any size.
pub(crate) struct BigUint(Vec<u32>);

impl BigUint {
    const LIMB: u64 = 1_000_000_000;

    pub(crate) fn zero() -> Self {
        BigUint(vec![0])
    }

    pub(crate) fn mul_add(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = (v % Self::LIMB) as u32;
            carry = v / Self::LIMB;
        }
        while carry > 0 {
            self.0.push((carry % Self::LIMB) as u32);
            carry /= Self::LIMB;
        }
    }

    /// Python `int(digits, radix)` for ASCII digits (no sign, no `_`).
    pub(crate) fn parse(digits: &str, radix: u32) -> Option<Self> {
        if digits.is_empty() {
            return None;
        }
        let mut n = BigUint::zero();
        for c in digits.chars() {
            n.mul_add(radix, c.to_digit(radix)?);
        }
        Some(n)
    }

    pub(crate) fn to_decimal(&self) -> String {
        let mut out = String::new();
        let mut limbs = self.0.iter().rev().skip_while(|l| **l == 0);
        match limbs.next() {
            None => return "0".into(),
            Some(first) => out.push_str(&first.to_string()),
        }
        for l in limbs {
            out.push_str(&format!("{l:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_uint_arithmetic() {
        assert_eq!(
            BigUint::parse("ffffffffffffffffffffffff", 16)
                .unwrap()
                .to_decimal(),
            "79228162514264337593543950335"
        );
        assert_eq!(BigUint::parse("0", 10).unwrap().to_decimal(), "0");
        assert_eq!(
            BigUint::parse("1000000000", 10).unwrap().to_decimal(),
            "1000000000"
        );
        assert_eq!(BigUint::parse("777", 8).unwrap().to_decimal(), "511");
        assert!(BigUint::parse("", 2).is_none());
        assert!(BigUint::parse("12", 2).is_none());
    }
}
