// harness lands next
