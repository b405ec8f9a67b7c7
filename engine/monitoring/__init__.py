"""Production failure modes: feature logging, training-serving skew, drift."""
