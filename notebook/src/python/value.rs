//! [`ParamValue`]: one parameter value, typed as Python would hold it, and its
//! conversions to and from JSON.

use indexmap::IndexMap;

use super::literal::python_float_repr;

/// One parameter value, typed the way papermill (Python) would hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `None`.
    Null,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// An integer beyond `i64`, which Python keeps exactly: decimal digits
    /// with an optional leading `-`.
    BigInt(String),
    /// A `float`, NaN and infinities included.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<ParamValue>),
    /// A `dict`, in insertion order.
    Map(IndexMap<String, ParamValue>),
}

/// Parameters in injection order (papermill's dict keeps insertion order).
pub type Params = IndexMap<String, ParamValue>;

impl ParamValue {
    /// From JSON (e.g. a workflow's parameters). Integers that fit no `i64`
    /// but a `u64` become [`ParamValue::BigInt`]; larger JSON integers were
    /// already read as floats by serde_json.
    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => ParamValue::Null,
            J::Bool(b) => ParamValue::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    ParamValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    ParamValue::BigInt(u.to_string())
                } else {
                    ParamValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => ParamValue::Str(s.clone()),
            J::Array(a) => ParamValue::List(a.iter().map(ParamValue::from_json).collect()),
            J::Object(o) => ParamValue::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), ParamValue::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// To strict JSON (for `metadata.papermill.parameters` and the API).
    ///
    /// Non-finite floats become `null`: strict JSON has no NaN/Infinity
    /// (Python's `json.dumps` would write the non-standard `NaN`). A
    /// [`ParamValue::BigInt`] becomes an exact number up to `u64::MAX`, else
    /// the nearest float, else (beyond f64's range) its digits as a string.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            ParamValue::Null => J::Null,
            ParamValue::Bool(b) => J::Bool(*b),
            ParamValue::Int(i) => J::from(*i),
            ParamValue::BigInt(s) => {
                if let Ok(u) = s.parse::<u64>() {
                    J::from(u)
                } else if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
                {
                    J::Number(n)
                } else {
                    J::String(s.clone())
                }
            }
            ParamValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            ParamValue::Str(s) => J::String(s.clone()),
            ParamValue::List(l) => J::Array(l.iter().map(ParamValue::to_json).collect()),
            ParamValue::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Python's `str()` of a scalar; containers get their JSON text. Used to
    /// turn non-string YAML mapping keys into the string papermill's
    /// translators would print for them (`"True"`, `"None"`, `"1.5"`).
    pub fn python_str(&self) -> String {
        match self {
            ParamValue::Null => "None".into(),
            ParamValue::Bool(true) => "True".into(),
            ParamValue::Bool(false) => "False".into(),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::BigInt(s) => s.clone(),
            ParamValue::Float(f) => python_float_repr(*f),
            ParamValue::Str(s) => s.clone(),
            ParamValue::List(_) | ParamValue::Map(_) => self.to_json().to_string(),
        }
    }

    /// Python truthiness: papermill writes `yaml.load(...) or {}`, so a
    /// falsy document (empty, `null`, `false`, `0`, `''`, `[]`) means "no
    /// parameters" rather than an error.
    pub(crate) fn is_falsy(&self) -> bool {
        match self {
            ParamValue::Null => true,
            ParamValue::Bool(b) => !b,
            ParamValue::Int(i) => *i == 0,
            ParamValue::BigInt(_) => false,
            ParamValue::Float(f) => *f == 0.0,
            ParamValue::Str(s) => s.is_empty(),
            ParamValue::List(l) => l.is_empty(),
            ParamValue::Map(m) => m.is_empty(),
        }
    }
}

/// An integer from its sign and ASCII decimal digits: `Int` when it fits,
/// else `BigInt` in canonical form (no leading zeros), as Python prints it.
pub(crate) fn int_from_decimal(negative: bool, digits: &str) -> ParamValue {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return ParamValue::Int(0);
    }
    let signed = if negative {
        format!("-{digits}")
    } else {
        digits.to_string()
    };
    match signed.parse::<i64>() {
        Ok(i) => ParamValue::Int(i),
        Err(_) => ParamValue::BigInt(signed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": 1, "b": [1.5, null, true, "x"], "c": {"d": 18446744073709551615u64}});
        let v = ParamValue::from_json(&j);
        let ParamValue::Map(m) = &v else { panic!() };
        assert_eq!(m["a"], ParamValue::Int(1));
        assert_eq!(
            m["c"],
            ParamValue::Map(
                [(
                    "d".into(),
                    ParamValue::BigInt("18446744073709551615".into())
                )]
                .into_iter()
                .collect()
            )
        );
        assert_eq!(v.to_json(), j);
        assert_eq!(
            ParamValue::Float(f64::NAN).to_json(),
            serde_json::Value::Null
        );
        assert_eq!(
            ParamValue::Float(f64::INFINITY).to_json(),
            serde_json::Value::Null
        );
        assert_eq!(ParamValue::Float(100.0).to_json().to_string(), "100.0");
        assert_eq!(
            ParamValue::BigInt("123456789012345678901234567890".into()).to_json(),
            serde_json::json!(1.2345678901234568e29)
        );
        assert_eq!(
            ParamValue::BigInt("1".repeat(400)).to_json(),
            serde_json::Value::String("1".repeat(400))
        );
    }

    #[test]
    fn python_str_of_keys() {
        assert_eq!(ParamValue::Null.python_str(), "None");
        assert_eq!(ParamValue::Bool(false).python_str(), "False");
        assert_eq!(ParamValue::Float(1e16).python_str(), "1e+16");
        assert_eq!(ParamValue::Float(2.0).python_str(), "2.0");
        assert_eq!(ParamValue::Int(-3).python_str(), "-3");
    }
}
