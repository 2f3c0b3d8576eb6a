//! Named parameters of workloads and strategies: declared with defaults and valid ranges,
//! validated once, then read by name.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParamError;

/// A parameter's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A whole number.
    Int(u64),
    /// A real number.
    Float(f64),
    /// A word from a fixed set of choices, or free text.
    Text(String),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v}"),
        }
    }
}

/// What values a parameter takes, and its default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// A whole number in `min..=max`.
    Int {
        /// Value when not given.
        default: u64,
        /// Smallest valid value.
        min: u64,
        /// Largest valid value.
        max: u64,
    },
    /// A real number in `min..=max`.
    Float {
        /// Value when not given.
        default: f64,
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// One of `options`.
    Choice {
        /// Value when not given.
        default: &'static str,
        /// Valid values.
        options: &'static [&'static str],
    },
    /// Free text, such as a path.
    Text {
        /// Value when not given.
        default: &'static str,
    },
    /// A whole number in `min..=max`, or `auto` (the default): the owner chooses, as
    /// multiprocessing chooses a `chunksize`. Read with [`Params::int_or_auto`].
    IntOrAuto {
        /// Smallest valid number.
        min: u64,
        /// Largest valid number.
        max: u64,
    },
}

/// The word that leaves an [`ParamKind::IntOrAuto`] parameter to its owner.
pub const AUTO: &str = "auto";

impl ParamKind {
    /// The default value.
    pub fn default_value(&self) -> Value {
        match *self {
            ParamKind::Int { default, .. } => Value::Int(default),
            ParamKind::Float { default, .. } => Value::Float(default),
            ParamKind::Choice { default, .. } | ParamKind::Text { default } => {
                Value::Text(default.to_owned())
            }
            ParamKind::IntOrAuto { .. } => Value::Text(AUTO.to_owned()),
        }
    }

    /// The valid values, as a user reads them: `0..=1000`, `0.0..=1.0`, `a | b | c`.
    pub fn valid(&self) -> String {
        match self {
            ParamKind::Int { min, max, .. } => format!("{min}..={max}"),
            ParamKind::Float { min, max, .. } => format!("{min:?}..={max:?}"),
            ParamKind::Choice { options, .. } => options.join(" | "),
            ParamKind::Text { .. } => "any text".to_owned(),
            ParamKind::IntOrAuto { min, max } => format!("{AUTO} or {min}..={max}"),
        }
    }

    /// Checks a value against the kind, widening an integer given for a real parameter.
    fn check(&self, value: Value) -> Result<Value, String> {
        match (*self, value) {
            (ParamKind::Int { min, max, .. }, Value::Int(v)) if (min..=max).contains(&v) => {
                Ok(Value::Int(v))
            }
            (ParamKind::Float { min, max, .. }, Value::Float(v)) if v >= min && v <= max => {
                Ok(Value::Float(v))
            }
            (ParamKind::Float { min, max, .. }, Value::Int(v))
                if (v as f64) >= min && (v as f64) <= max =>
            {
                Ok(Value::Float(v as f64))
            }
            (ParamKind::Choice { options, .. }, Value::Text(v))
                if options.contains(&v.as_str()) =>
            {
                Ok(Value::Text(v))
            }
            (ParamKind::Text { .. }, Value::Text(v)) => Ok(Value::Text(v)),
            (ParamKind::IntOrAuto { min, max }, Value::Int(v)) if (min..=max).contains(&v) => {
                Ok(Value::Int(v))
            }
            (ParamKind::IntOrAuto { .. }, Value::Text(v)) if v == AUTO => Ok(Value::Text(v)),
            (_, other) => Err(other.to_string()),
        }
    }

    /// Parses a value written on a command line or in a name (`latency_us=500`).
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        let value = match self {
            ParamKind::Int { .. } => Value::Int(
                text.trim()
                    .replace('_', "")
                    .parse()
                    .map_err(|_| text.to_owned())?,
            ),
            ParamKind::Float { .. } => {
                Value::Float(text.trim().parse().map_err(|_| text.to_owned())?)
            }
            ParamKind::Choice { .. } | ParamKind::Text { .. } => {
                Value::Text(text.trim().to_owned())
            }
            ParamKind::IntOrAuto { .. } => match text.trim().replace('_', "").parse() {
                Ok(v) => Value::Int(v),
                Err(_) => Value::Text(text.trim().to_owned()),
            },
        };
        self.check(value)
    }
}

/// The declaration of one parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// The name used in suite files and on the command line (`snake_case`).
    pub name: &'static str,
    /// One line for `parbench list`.
    pub help: &'static str,
    /// Valid values and the default.
    pub kind: ParamKind,
}

/// Validated parameter values: every declared parameter has a value, given or default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    values: BTreeMap<String, Value>,
}

impl Params {
    /// Validates `given` against `specs`, filling in defaults. `owner` names the workload or
    /// strategy in error messages.
    pub fn resolve(
        owner: &str,
        specs: &[ParamSpec],
        given: &BTreeMap<String, Value>,
    ) -> Result<Self, ParamError> {
        for name in given.keys() {
            if !specs.iter().any(|s| s.name == name) {
                return Err(ParamError::Unknown {
                    owner: owner.to_owned(),
                    name: name.clone(),
                    valid: if specs.is_empty() {
                        "none".to_owned()
                    } else {
                        specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    },
                });
            }
        }
        let mut values = BTreeMap::new();
        for spec in specs {
            let value = match given.get(spec.name) {
                None => spec.kind.default_value(),
                Some(v) => spec
                    .kind
                    .check(v.clone())
                    .map_err(|got| ParamError::Invalid {
                        owner: owner.to_owned(),
                        name: spec.name.to_owned(),
                        got,
                        valid: spec.kind.valid(),
                    })?,
            };
            values.insert(spec.name.to_owned(), value);
        }
        Ok(Self { values })
    }

    /// Parses `key=value` pairs (as given on a command line) and validates them.
    pub fn parse(owner: &str, specs: &[ParamSpec], pairs: &[&str]) -> Result<Self, ParamError> {
        let mut given = BTreeMap::new();
        for pair in pairs {
            let (key, text) = pair.split_once('=').ok_or_else(|| ParamError::Syntax {
                owner: owner.to_owned(),
                text: (*pair).to_owned(),
            })?;
            let key = key.trim();
            let spec = specs.iter().find(|s| s.name == key);
            let value = match spec {
                // Unknown names are reported by `resolve` with the list of valid ones.
                None => Value::Text(text.to_owned()),
                Some(spec) => spec.kind.parse(text).map_err(|got| ParamError::Invalid {
                    owner: owner.to_owned(),
                    name: spec.name.to_owned(),
                    got,
                    valid: spec.kind.valid(),
                })?,
            };
            given.insert(key.to_owned(), value);
        }
        Self::resolve(owner, specs, &given)
    }

    /// Every parameter with its value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether no parameter is declared.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// An integer parameter.
    ///
    /// # Panics
    /// When `name` is not a declared integer parameter: a bug in the caller, not user input.
    pub fn int(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(Value::Int(v)) => *v,
            other => panic!("parameter `{name}` is not a declared integer (found {other:?})"),
        }
    }

    /// A parameter that is a number or `auto`: `None` for `auto`.
    ///
    /// ```
    /// use parbench_workloads::{ParamKind, ParamSpec, Params};
    ///
    /// const SPECS: &[ParamSpec] = &[ParamSpec {
    ///     name: "chunksize",
    ///     help: "tasks per message",
    ///     kind: ParamKind::IntOrAuto { min: 1, max: 1000 },
    /// }];
    /// assert_eq!(Params::parse("pool", SPECS, &[]).unwrap().int_or_auto("chunksize"), None);
    /// let one = Params::parse("pool", SPECS, &["chunksize=1"]).unwrap();
    /// assert_eq!(one.int_or_auto("chunksize"), Some(1));
    /// ```
    ///
    /// # Panics
    /// When `name` is not a declared number-or-auto parameter.
    pub fn int_or_auto(&self, name: &str) -> Option<u64> {
        match self.values.get(name) {
            Some(Value::Int(v)) => Some(*v),
            Some(Value::Text(v)) if v == AUTO => None,
            other => {
                panic!("parameter `{name}` is not a declared number or auto (found {other:?})")
            }
        }
    }

    /// A real parameter.
    ///
    /// # Panics
    /// When `name` is not a declared real parameter.
    pub fn float(&self, name: &str) -> f64 {
        match self.values.get(name) {
            Some(Value::Float(v)) => *v,
            other => panic!("parameter `{name}` is not a declared real number (found {other:?})"),
        }
    }

    /// A choice or text parameter.
    ///
    /// # Panics
    /// When `name` is not a declared choice or text parameter.
    pub fn text(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(Value::Text(v)) => v,
            other => panic!("parameter `{name}` is not a declared choice (found {other:?})"),
        }
    }
}

impl fmt::Display for Params {
    /// `key=value` pairs separated by commas, as they are written on a command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "latency_us",
            help: "",
            kind: ParamKind::Int {
                default: 1000,
                min: 0,
                max: 10_000,
            },
        },
        ParamSpec {
            name: "rate",
            help: "",
            kind: ParamKind::Float {
                default: 0.5,
                min: 0.0,
                max: 1.0,
            },
        },
        ParamSpec {
            name: "filter",
            help: "",
            kind: ParamKind::Choice {
                default: "a",
                options: &["a", "b"],
            },
        },
        ParamSpec {
            name: "chunk",
            help: "",
            kind: ParamKind::IntOrAuto { min: 1, max: 64 },
        },
    ];

    #[test]
    fn fills_defaults_and_reads_values() {
        let p = Params::parse("w", SPECS, &["rate=1", "filter=b"]).unwrap();
        assert_eq!(p.int("latency_us"), 1000);
        assert_eq!(p.float("rate"), 1.0);
        assert_eq!(p.text("filter"), "b");
        assert_eq!(p.int_or_auto("chunk"), None);
        assert_eq!(p.to_string(), "chunk=auto,filter=b,latency_us=1000,rate=1");
        let p = Params::parse("w", SPECS, &["chunk=1_0"]).unwrap();
        assert_eq!(p.int_or_auto("chunk"), Some(10));
        let given = BTreeMap::from([("chunk".to_owned(), Value::Text("auto".into()))]);
        assert_eq!(
            Params::resolve("w", SPECS, &given)
                .unwrap()
                .int_or_auto("chunk"),
            None
        );
    }

    #[test]
    fn a_number_or_auto_refuses_other_words_and_numbers_out_of_range() {
        for (given, got) in [("chunk=0", "0"), ("chunk=65", "65"), ("chunk=big", "big")] {
            let err = Params::parse("pool", SPECS, &[given]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("parameter `chunk` of `pool` must be in auto or 1..=64, got {got}")
            );
        }
    }

    #[test]
    fn out_of_range_names_the_parameter_and_its_range() {
        let err = Params::parse("http", SPECS, &["latency_us=20000"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `latency_us` of `http` must be in 0..=10000, got 20000"
        );
        let err = Params::parse("w", SPECS, &["rate=1.5"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `rate` of `w` must be in 0.0..=1.0, got 1.5"
        );
        let err = Params::parse("w", SPECS, &["filter=c"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `filter` of `w` must be in a | b, got c"
        );
        let err = Params::parse("w", SPECS, &["latency_us=fast"]).unwrap_err();
        assert!(err.to_string().ends_with("got fast"), "{err}");
    }

    #[test]
    fn unknown_parameter_lists_the_valid_ones() {
        let err = Params::parse("w", SPECS, &["latency=1"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`w` has no parameter `latency`; valid parameters: latency_us, rate, filter, chunk"
        );
        let err = Params::parse("w", SPECS, &["latency"]).unwrap_err();
        assert_eq!(err.to_string(), "expected key=value for `w`, got `latency`");
    }
}
