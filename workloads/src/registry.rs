//! Workloads by name, and the shared environments some of them need.
//!
//! A binary re-executed as a worker process finds its workload here by name, so a user's binary
//! that registers its own workloads gets them in its workers too.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{builtin, ParamSpec, Params, Value, Workload, WorkloadError};

/// Values an environment publishes to the workloads that use it (e.g. a server's address).
pub type EnvVars = BTreeMap<String, String>;

/// The dominant kind of work, recorded with every cell so results can be grouped by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkKind {
    /// Limited by memory bandwidth.
    Memory,
    /// Limited by arithmetic.
    Compute,
    /// Limited by waiting on IO.
    Io,
    /// Synthetic work whose cost is set by a parameter.
    Synthetic,
}

impl fmt::Display for WorkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkKind::Memory => "memory",
            WorkKind::Compute => "compute",
            WorkKind::Io => "io",
            WorkKind::Synthetic => "synthetic",
        })
    }
}

/// Builds a workload from validated parameters and the environment's variables.
///
/// A reference with a `'static` life, so that a spec stays `Copy` and can be a `const` (`build:
/// &my_build`, a function) while a workload made from closures ([`crate::FnWorkload`]) can
/// capture them.
pub type BuildWorkload =
    &'static (dyn Fn(&Params, &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> + Send + Sync);

/// A registered workload: its name, description, parameters, and how to build it.
#[derive(Clone, Copy)]
pub struct WorkloadSpec {
    /// Unique name (`kebab-case`).
    pub name: &'static str,
    /// One line for `parbench list`.
    pub description: &'static str,
    /// The dominant kind of work.
    pub kind: WorkKind,
    /// Items in the input when a suite does not say.
    pub default_size: usize,
    /// Declared parameters.
    pub params: &'static [ParamSpec],
    /// A shared environment started once per run by the harness, outside the measured workers.
    pub environment: Option<EnvironmentSpec>,
    /// Builds the workload from validated parameters and the environment's variables.
    pub build: BuildWorkload,
}

impl WorkloadSpec {
    /// Validates parameters given by name, filling in defaults.
    pub fn resolve(&self, given: &BTreeMap<String, Value>) -> Result<Params, WorkloadError> {
        Ok(Params::resolve(self.name, self.params, given)?)
    }

    /// Builds the workload.
    pub fn instantiate(
        &self,
        params: &Params,
        env: &EnvVars,
    ) -> Result<Arc<dyn Workload>, WorkloadError> {
        (self.build)(params, env)
    }
}

impl fmt::Debug for WorkloadSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkloadSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Starts an environment: a function, or a closure that captures what it needs (a path, a
/// configuration). A reference with a `'static` life, so that a spec stays `Copy` and the
/// built-in ones stay `const` (`start: &my_start`).
pub type StartEnvironment =
    &'static (dyn Fn() -> Result<Box<dyn Environment>, WorkloadError> + Send + Sync);

/// A service that workloads need during a run: started by the harness in its own process
/// before the cells that need it are prepared, published through [`EnvVars`], stopped at the
/// end of the run — once per run or once per bucket, as its [`Scope`] says.
#[derive(Clone, Copy)]
pub struct EnvironmentSpec {
    /// Unique name; workloads that name the same environment of [`Scope::Run`] share one
    /// instance.
    pub name: &'static str,
    /// Starts it.
    pub start: StartEnvironment,
    /// How many instances a run starts.
    pub scope: Scope,
}

/// How many instances of an environment a run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One for the whole run, shared by every bucket that names it: a calibration, or a
    /// server whose state no cell changes.
    Run,
    /// One for each bucket (a workload entry at one size and task count) that names it,
    /// started before the bucket's input is prepared: a database or a fixture that its cells
    /// use and may change, so that no bucket sees another's leftovers. A bucket's cells are
    /// visited in every round of the run, so each instance runs until the run ends.
    Bucket,
}

impl EnvironmentSpec {
    /// Starts the environment.
    pub fn start(&self) -> Result<Box<dyn Environment>, WorkloadError> {
        (self.start)()
    }
}

impl fmt::Debug for EnvironmentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvironmentSpec")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A running environment. Dropping it stops it too; [`Environment::stop`] reports failures.
///
/// # Example
///
/// ```
/// use parbench_workloads::{EnvVars, Environment, WorkloadError};
///
/// /// Publishes a value computed once per run, shared by every cell.
/// struct Calibration(f64);
///
/// impl Environment for Calibration {
///     fn vars(&self) -> EnvVars {
///         EnvVars::from([("my.factor".to_owned(), self.0.to_string())])
///     }
///     fn stop(self: Box<Self>) -> Result<(), WorkloadError> {
///         Ok(())
///     }
/// }
///
/// let env: Box<dyn Environment> = Box::new(Calibration(1.5));
/// assert_eq!(env.vars()["my.factor"], "1.5");
/// env.stop()?;
/// # Ok::<(), WorkloadError>(())
/// ```
pub trait Environment: Send {
    /// The values workloads read (addresses, calibrations).
    fn vars(&self) -> EnvVars;

    /// Whether its variables measure the machine (a calibration) rather than this run (an
    /// address): the harness then keeps the first values it saw on a machine and hands those
    /// to every later run there, so that two runs do the same work however fast the machine
    /// was while each calibrated.
    fn is_calibration(&self) -> bool {
        false
    }

    /// Stops it and releases everything it holds.
    fn stop(self: Box<Self>) -> Result<(), WorkloadError>;
}

/// How to build a configured workload again from a [`Registry`]: its name, its parameters as
/// `key=value` text and the environment's variables. A worker process receives this instead of
/// the workload itself, so it needs only the binary's registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipe {
    /// The registered name.
    pub workload: String,
    /// Every parameter as `key=value`, parsed again with the workload's declarations.
    pub params: Vec<String>,
    /// The shared environments' variables.
    pub env: EnvVars,
}

impl Recipe {
    /// The recipe of `spec` configured with `params` in the environment `env`.
    pub fn new(spec: &WorkloadSpec, params: &Params, env: &EnvVars) -> Self {
        Self {
            workload: spec.name.to_owned(),
            params: params.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            env: env.clone(),
        }
    }

    /// Builds the workload from `registry`.
    pub fn instantiate(&self, registry: &Registry) -> Result<Arc<dyn Workload>, WorkloadError> {
        let spec = registry.get(&self.workload)?;
        let pairs: Vec<&str> = self.params.iter().map(String::as_str).collect();
        let params = Params::parse(spec.name, spec.params, &pairs)?;
        spec.instantiate(&params, &self.env)
    }
}

/// A spec registered under a unique name.
pub trait Named {
    /// The name it is registered under.
    fn name(&self) -> &'static str;
}

impl Named for WorkloadSpec {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Specs by unique name, in registration order: the shape the workload and strategy registries
/// share.
///
/// ```
/// use parbench_workloads::{ByName, Named};
///
/// struct Spec(&'static str);
/// impl Named for Spec {
///     fn name(&self) -> &'static str {
///         self.0
///     }
/// }
///
/// let mut specs = ByName::default();
/// specs.insert(Spec("a")).ok();
/// specs.insert(Spec("b")).ok();
/// assert!(specs.insert(Spec("a")).is_err());
/// assert_eq!(specs.get("b").map(|s| s.0), Ok("b"));
/// assert_eq!(specs.get("c").err().as_deref(), Some("a, b"));
/// ```
#[derive(Clone, Debug)]
pub struct ByName<S> {
    specs: Vec<S>,
}

impl<S> Default for ByName<S> {
    fn default() -> Self {
        Self { specs: Vec::new() }
    }
}

impl<S: Named> ByName<S> {
    /// These specs, whose names must differ.
    pub fn of(specs: Vec<S>) -> Self {
        Self { specs }
    }

    /// Adds a spec; gives it back when its name is taken.
    pub fn insert(&mut self, spec: S) -> Result<(), S> {
        if self.specs.iter().any(|s| s.name() == spec.name()) {
            return Err(spec);
        }
        self.specs.push(spec);
        Ok(())
    }

    /// The spec named `name`; when there is none, the registered names, comma-separated.
    pub fn get(&self, name: &str) -> Result<&S, String> {
        self.specs
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| self.names().join(", "))
    }

    /// Every spec, in registration order.
    pub fn iter(&self) -> std::slice::Iter<'_, S> {
        self.specs.iter()
    }

    /// Every registered name, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.specs.iter().map(Named::name).collect()
    }
}

/// Workloads by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    workloads: ByName<WorkloadSpec>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in workloads of the enabled features: `square`, `resize`, `json`, `http`,
    /// `risky`, `spin`.
    pub fn builtin() -> Self {
        Self {
            workloads: ByName::of(builtin::specs()),
        }
    }

    /// Adds a workload; its name must be new.
    pub fn register(&mut self, spec: WorkloadSpec) -> Result<(), WorkloadError> {
        self.workloads
            .insert(spec)
            .map_err(|spec| WorkloadError::Duplicate(spec.name.to_owned()))
    }

    /// The workload named `name`, or an error listing the valid names.
    pub fn get(&self, name: &str) -> Result<&WorkloadSpec, WorkloadError> {
        self.workloads
            .get(name)
            .map_err(|valid| WorkloadError::Unknown {
                name: name.to_owned(),
                valid,
            })
    }

    /// Every registered workload, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &WorkloadSpec> {
        self.workloads.iter()
    }

    /// Every registered name, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.workloads.names()
    }
}
