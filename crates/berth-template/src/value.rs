//! The dynamic value model: what Go's `interface{}` holds when Helm renders a chart.
//!
//! Maps are shared and mutable (`Arc<RwLock<..>>`) because Go maps are reference types:
//! Sprig's `set`, `unset`, `merge` mutate a map in place and every alias sees the change
//! (charts rely on `$_ := set . "x" 1`). Lists are immutable; Sprig never mutates a slice.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::gofmt;

/// The sorted string-keyed map behind [`Value::Map`].
pub type MapData = BTreeMap<String, Value>;

/// Write accesses to any map so far, in this process: a computation that read maps may be
/// reused while this count has not moved (an `include` of a pure template, see `purity`).
static MAP_WRITES: AtomicU64 = AtomicU64::new(0);

/// How many times a map has been opened for writing in this process.
pub(crate) fn map_writes() -> u64 {
    MAP_WRITES.load(Ordering::Relaxed)
}

/// Maps with a `Template` entry (a chart context), or values holding one, stored into
/// another map so far: after
/// that, a template may reach a context through its data without the purity analysis
/// seeing it, so `include` outputs are no longer reused from one template file to the next.
static CONTEXT_STORES: AtomicU64 = AtomicU64::new(0);

/// How many chart contexts have been stored into maps in this process.
pub(crate) fn context_stores() -> u64 {
    CONTEXT_STORES.load(Ordering::Relaxed)
}

/// How many maps and lists [`may_hold_context`] looks into before it answers yes.
const CONTEXT_SCAN: usize = 256;

/// Whether `v` is, holds, or may hold a chart context (a map with a `Template` entry) at
/// any depth: a context inside a dict or a list stored into the values is as reachable as
/// one stored directly. Past `budget` maps and lists it answers yes.
fn may_hold_context(v: &Value, budget: &mut usize) -> bool {
    let children: Vec<Value> = match v {
        Value::Map(m) => {
            let d = m.read();
            if d.contains_key("Template") {
                return true;
            }
            d.values().filter(|x| x.is_container()).cloned().collect()
        }
        Value::List(l) => l.iter().filter(|x| x.is_container()).cloned().collect(),
        _ => return false,
    };
    if *budget == 0 {
        return true;
    }
    *budget -= 1;
    // The map's lock is released before going down: a map may hold itself.
    children.iter().any(|c| may_hold_context(c, budget))
}

/// A shared, mutable map (Go `map[string]interface{}`): clones share the same storage.
#[derive(Clone, Default)]
pub struct MapRef(Arc<RwLock<MapData>>);

impl MapRef {
    /// Wraps a map.
    pub fn new(m: MapData) -> Self {
        MapRef(Arc::new(RwLock::new(m)))
    }
    /// Read access (a poisoned lock is recovered: maps hold plain data).
    pub fn read(&self) -> RwLockReadGuard<'_, MapData> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
    /// Write access (counted by [`map_writes`]).
    pub fn write(&self) -> RwLockWriteGuard<'_, MapData> {
        MAP_WRITES.fetch_add(1, Ordering::Relaxed);
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
    /// Looks up one key (cloned value).
    pub fn get(&self, k: &str) -> Option<Value> {
        self.read().get(k).cloned()
    }
    /// Inserts a key.
    pub fn insert(&self, k: impl Into<String>, v: Value) {
        if may_hold_context(&v, &mut CONTEXT_SCAN.clone()) {
            // A chart context stored where later templates can reach it without going
            // through their data: see [`context_stores`].
            CONTEXT_STORES.fetch_add(1, Ordering::Relaxed);
        }
        self.write().insert(k.into(), v);
    }
    /// Sets the `Template` entry of a chart context without counting it in
    /// [`map_writes`]: Helm's engine sets it before each template file, and `include`
    /// reuse checks for templates that depend on it itself (`purity`).
    pub fn set_template_entry(&self, v: Value) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert("Template".to_string(), v);
    }
    /// True if both handles point at the same map.
    pub fn ptr_eq(&self, o: &MapRef) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }
    /// A shallow copy of the entries.
    pub fn snapshot(&self) -> MapData {
        self.read().clone()
    }
}

/// A host object exposed to templates: `.Files`, `.Capabilities`, `.Release`-like structs,
/// time values. Methods win over fields, as in Go.
pub trait Object: Send + Sync {
    /// A field (or zero-argument method) by name; `None` if there is none.
    fn field(&self, name: &str) -> Option<Value>;
    /// A method call; `None` if there is no such method.
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// Go type name used in messages and `typeOf` (e.g. `chartutil.Capabilities`).
    fn type_name(&self) -> String {
        "object".to_string()
    }
    /// The plain data this object wraps (a map or list), used by `range`, `index`, `len`,
    /// printing and serialisation. `None` means the object is an opaque struct.
    fn underlying(&self) -> Option<Value> {
        None
    }
    /// How `%v` prints the object; defaults to the underlying value or `{}`.
    fn display(&self) -> String {
        match self.underlying() {
            Some(v) => v.to_string(),
            None => "{}".to_string(),
        }
    }
    /// How `{{ obj }}` prints the object directly in an action. Go calls a pointer-receiver
    /// `String()` there but not under `%v`/`quote` (e.g. `.Capabilities.KubeVersion` prints
    /// `v1.36.0` yet quotes as the struct). Defaults to [`Object::display`].
    fn print_text(&self) -> String {
        self.display()
    }
    /// Serialisation (toJson/toYaml); defaults to the underlying value or `{}`.
    fn to_json(&self) -> serde_json::Value {
        match self.underlying() {
            Some(v) => v.to_json(),
            None => serde_json::Value::Object(Default::default()),
        }
    }
    /// Downcasting support for engine-internal objects (times, semver versions).
    fn as_any(&self) -> &dyn Any;
}

/// A template value.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's nil interface (a missing key, `nil`).
    #[default]
    Nil,
    /// bool
    Bool(bool),
    /// Go's `int` (template literals, `len`, `int`, `atoi`, `.Release.Revision`).
    Int(i64),
    /// Go's `int64`: what Sprig's integer math returns (`add`, `mul`, `max`, `int64`, ...).
    /// Prints like `int`; differs in `typeOf`, `kindOf`, `%T` and `deepEqual`/`has`.
    Int64(i64),
    /// Go's `uint64`: what a semantic version's `Major`, `Minor` and `Patch` are
    /// (`(semver "1.2.3").Major`). Prints like `int`; compares with integers of either sign.
    Uint64(u64),
    /// float64 (every number that comes from values files).
    Float(f64),
    /// string
    String(Arc<str>),
    /// `[]interface{}`
    List(Arc<Vec<Value>>),
    /// `map[string]interface{}` (shared, mutable)
    Map(MapRef),
    /// A host object with fields and methods.
    Object(Arc<dyn Object>),
}

impl Value {
    /// True for a map or a list.
    fn is_container(&self) -> bool {
        matches!(self, Value::Map(_) | Value::List(_))
    }

    /// True for [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::String(Arc::from(s.as_ref()))
    }
    /// A list value.
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Arc::new(v))
    }
    /// A map value (new storage).
    pub fn map(m: MapData) -> Value {
        Value::Map(MapRef::new(m))
    }
    /// An empty map.
    pub fn empty_map() -> Value {
        Value::map(MapData::new())
    }
    /// An object value.
    pub fn object(o: impl Object + 'static) -> Value {
        Value::Object(Arc::new(o))
    }

    /// Converts JSON as Helm does after `json.Unmarshal`: every number is float64.
    pub fn from_json(j: serde_json::Value) -> Value {
        Self::from_json_ref(&j)
    }

    /// Like [`Value::from_json`], from a reference.
    pub fn from_json_ref(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => {
                Value::list(a.iter().map(Value::from_json_ref).collect())
            }
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json_ref(v)))
                    .collect(),
            ),
        }
    }

    /// Like [`Value::from_json`] but keeps integral JSON numbers as integers (Go code that
    /// builds values itself, e.g. `fromToml`, `.Release.Revision`).
    pub fn from_json_keep_ints(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::Array(a) => {
                Value::list(a.iter().map(Value::from_json_keep_ints).collect())
            }
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json_keep_ints(v)))
                    .collect(),
            ),
            other => Value::from_json_ref(other),
        }
    }

    /// Serialises to JSON (Go `encoding/json` view of the value). Cycles are cut at depth 1000.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_depth(0)
    }

    fn to_json_depth(&self, d: usize) -> serde_json::Value {
        if d > 1000 {
            return serde_json::Value::Null;
        }
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) | Value::Int64(i) => serde_json::Value::from(*i),
            Value::Uint64(u) => serde_json::Value::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            // encoding/json writes bytes that are not UTF-8 as U+FFFD.
            Value::String(s) => serde_json::Value::String(crate::bytes::lossy(s).into_owned()),
            Value::List(l) => {
                serde_json::Value::Array(l.iter().map(|v| v.to_json_depth(d + 1)).collect())
            }
            Value::Map(m) => serde_json::Value::Object(
                m.read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json_depth(d + 1)))
                    .collect(),
            ),
            Value::Object(o) => o.to_json(),
        }
    }

    /// Go's truthiness (text/template `isTrue`).
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint64(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.read().is_empty(),
            Value::Object(o) => match o.underlying() {
                Some(Value::List(l)) => !l.is_empty(),
                Some(Value::Map(m)) => !m.read().is_empty(),
                _ => true,
            },
        }
    }

    /// Sprig's `empty`: nil, zero, false, "" and empty collections. Structs never are.
    pub fn is_empty(&self) -> bool {
        !self.is_true()
    }

    /// Go type name as `%T` / `typeOf` print it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Uint64(_) => "uint64".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go reflect kind name as `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => match o.underlying() {
                Some(Value::Map(_)) => "map",
                Some(Value::List(_)) => "slice",
                _ => "struct",
            },
        }
    }

    /// The integer inside, if this is an `int` or an `int64` (or a `uint64` that fits).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            Value::Uint64(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The map inside, if this is a map (or an object wrapping one).
    pub fn as_map(&self) -> Option<MapRef> {
        match self {
            Value::Map(m) => Some(m.clone()),
            Value::Object(o) => match o.underlying() {
                Some(Value::Map(m)) => Some(m),
                _ => None,
            },
            _ => None,
        }
    }

    /// The list inside, if this is a list (or an object wrapping one).
    pub fn as_list(&self) -> Option<Arc<Vec<Value>>> {
        match self {
            Value::List(l) => Some(l.clone()),
            Value::Object(o) => match o.underlying() {
                Some(Value::List(l)) => Some(l),
                _ => None,
            },
            _ => None,
        }
    }

    /// Walks `a.b.c` through nested maps (a convenience for hosts and tests).
    pub fn path(&self, dotted: &str) -> Option<Value> {
        let mut cur = self.clone();
        for seg in dotted.split('.') {
            cur = cur.as_map()?.get(seg)?;
        }
        Some(cur)
    }

    /// A deep copy: new storage for every map and list (Sprig `deepCopy`).
    pub fn deep_copy(&self) -> Value {
        self.deep_copy_depth(0)
    }

    fn deep_copy_depth(&self, d: usize) -> Value {
        if d > 1000 {
            return Value::Nil;
        }
        match self {
            Value::List(l) => Value::list(l.iter().map(|v| v.deep_copy_depth(d + 1)).collect()),
            Value::Map(m) => Value::map(
                m.read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.deep_copy_depth(d + 1)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Go's `reflect.DeepEqual` on the dynamic values (int and float64 are different).
    pub fn deep_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
            (Value::Uint64(a), Value::Uint64(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_equal(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                if a.ptr_eq(b) {
                    return true;
                }
                let (a, b) = (a.read(), b.read());
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.deep_equal(vb))
            }
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    /// Go's `fmt` `%v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        gofmt::write_v(&mut s, self, 0);
        f.write_str(&s)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "{:?}", s),
            Value::Object(o) => write!(f, "Object({})", o.type_name()),
            other => write!(f, "{}", other),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.deep_equal(other)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(Arc::from(s))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::list(v)
    }
}
impl From<MapData> for Value {
    fn from(m: MapData) -> Self {
        Value::map(m)
    }
}
