//! Sprig list and dict functions (`list.go`, `dict.go`) with mergo's merge semantics.

use super::{FnErr, Func, as_list, int, map, s, strval, to_i64, want_min, want_n};
use crate::value::{MapData, MapRef, Value};

pub(super) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("list", |_, a| Ok(Value::list(a.to_vec())));
    m.insert("tuple", |_, a| Ok(Value::list(a.to_vec())));
    for name in ["append", "push", "mustAppend", "mustPush"] {
        m.insert(name, |_, a| {
            want_n("append", a, 2)?;
            let l = as_list(&a[0], "push")?;
            let mut v = l.as_ref().clone();
            v.push(a[1].clone());
            Ok(Value::list(v))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        m.insert(name, |_, a| {
            want_n("prepend", a, 2)?;
            let l = as_list(&a[0], "prepend")?;
            let mut v = vec![a[1].clone()];
            v.extend(l.iter().cloned());
            Ok(Value::list(v))
        });
    }
    for name in ["first", "mustFirst"] {
        m.insert(name, |_, a| {
            want_n("first", a, 1)?;
            let l = as_list(&a[0], "find first")?;
            Ok(l.first().cloned().unwrap_or_default())
        });
    }
    for name in ["last", "mustLast"] {
        m.insert(name, |_, a| {
            want_n("last", a, 1)?;
            let l = as_list(&a[0], "find last")?;
            Ok(l.last().cloned().unwrap_or_default())
        });
    }
    for name in ["rest", "mustRest"] {
        m.insert(name, |_, a| {
            want_n("rest", a, 1)?;
            let l = as_list(&a[0], "find rest")?;
            if l.is_empty() {
                return Ok(Value::list(Vec::new()));
            }
            Ok(Value::list(l[1..].to_vec()))
        });
    }
    for name in ["initial", "mustInitial"] {
        m.insert(name, |_, a| {
            want_n("initial", a, 1)?;
            let l = as_list(&a[0], "find initial")?;
            if l.is_empty() {
                return Ok(Value::list(Vec::new()));
            }
            Ok(Value::list(l[..l.len() - 1].to_vec()))
        });
    }
    for name in ["reverse", "mustReverse"] {
        m.insert(name, |_, a| {
            want_n("reverse", a, 1)?;
            let l = as_list(&a[0], "find reverse")?;
            Ok(Value::list(l.iter().rev().cloned().collect()))
        });
    }
    for name in ["uniq", "mustUniq"] {
        m.insert(name, |_, a| {
            want_n("uniq", a, 1)?;
            let l = as_list(&a[0], "find uniq")?;
            let mut out: Vec<Value> = Vec::new();
            for x in l.iter() {
                if !out.iter().any(|y| y.deep_equal(x)) {
                    out.push(x.clone());
                }
            }
            Ok(Value::list(out))
        });
    }
    for name in ["without", "mustWithout"] {
        m.insert(name, |_, a| {
            want_min("without", a, 1)?;
            let l = as_list(&a[0], "find without")?;
            let out: Vec<Value> = l
                .iter()
                .filter(|x| !a[1..].iter().any(|y| y.deep_equal(x)))
                .cloned()
                .collect();
            Ok(Value::list(out))
        });
    }
    for name in ["has", "mustHas"] {
        m.insert(name, |_, a| {
            want_n("has", a, 2)?;
            if matches!(a[1], Value::Nil) {
                return Ok(Value::Bool(false));
            }
            let l = as_list(&a[1], "find has")?;
            Ok(Value::Bool(l.iter().any(|x| x.deep_equal(&a[0]))))
        });
    }
    for name in ["compact", "mustCompact"] {
        m.insert(name, |_, a| {
            want_n("compact", a, 1)?;
            let l = as_list(&a[0], "compact")?;
            Ok(Value::list(
                l.iter().filter(|x| x.is_true()).cloned().collect(),
            ))
        });
    }
    for name in ["slice", "mustSlice"] {
        m.insert(name, |_, a| {
            want_min("slice", a, 1)?;
            let Some(l) = a[0].as_list() else {
                return Err(FnErr::Call(format!(
                    "list should be type of slice or array but {}",
                    match &a[0] {
                        Value::Nil => "<nil>".to_string(),
                        other => other.kind_name().to_string(),
                    }
                )));
            };
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            let start = a.get(1).map(to_i64).unwrap_or(0);
            let end = a.get(2).map(to_i64).unwrap_or(l.len() as i64);
            if start < 0 || end < start || end as usize > l.len() {
                return Err(FnErr::Call(
                    "reflect.Value.Slice: slice index out of bounds".into(),
                ));
            }
            Ok(Value::list(l[start as usize..end as usize].to_vec()))
        });
    }
    for name in ["chunk", "mustChunk"] {
        m.insert(name, |_, a| {
            want_n("chunk", a, 2)?;
            let size = int(a, 0)?;
            let l = as_list(&a[1], "chunk")?;
            if size <= 0 {
                return Err(FnErr::Call(
                    "runtime error: makeslice: len out of range".into(),
                ));
            }
            Ok(Value::list(
                l.chunks(size as usize)
                    .map(|c| Value::list(c.to_vec()))
                    .collect(),
            ))
        });
    }
    m.insert("concat", |_, a| {
        let mut out = Vec::new();
        for x in a {
            match x.as_list() {
                Some(l) => out.extend(l.iter().cloned()),
                None => {
                    return Err(FnErr::Call(format!(
                        "Cannot concat type {} as list",
                        x.type_name()
                    )));
                }
            }
        }
        Ok(Value::list(out))
    });
    // dicts
    m.insert("dict", |_, a| {
        let mut m = MapData::new();
        let mut i = 0;
        while i < a.len() {
            let k = strval(&a[i]);
            let v = a.get(i + 1).cloned().unwrap_or_else(|| Value::str(""));
            m.insert(k, v);
            i += 2;
        }
        Ok(Value::map(m))
    });
    m.insert("get", |_, a| {
        want_n("get", a, 2)?;
        let (d, k) = (map(a, 0)?, s(a, 1)?);
        Ok(d.get(k).unwrap_or_else(|| Value::str("")))
    });
    m.insert("set", |_, a| {
        want_n("set", a, 3)?;
        let (d, k) = (map(a, 0)?, s(a, 1)?);
        d.insert(k, a[2].clone());
        Ok(Value::Map(d))
    });
    m.insert("unset", |_, a| {
        want_n("unset", a, 2)?;
        let (d, k) = (map(a, 0)?, s(a, 1)?);
        d.write().remove(k);
        Ok(Value::Map(d))
    });
    m.insert("hasKey", |_, a| {
        want_n("hasKey", a, 2)?;
        let (d, k) = (map(a, 0)?, s(a, 1)?);
        Ok(Value::Bool(d.read().contains_key(k)))
    });
    m.insert("pluck", |_, a| {
        want_min("pluck", a, 1)?;
        let k = s(a, 0)?;
        let mut out = Vec::new();
        for i in 1..a.len() {
            let d = map(a, i)?;
            if let Some(v) = d.get(k) {
                out.push(v);
            }
        }
        Ok(Value::list(out))
    });
    m.insert("keys", |_, a| {
        let mut out = Vec::new();
        for i in 0..a.len() {
            let d = map(a, i)?;
            out.extend(d.read().keys().map(Value::str));
        }
        Ok(Value::list(out))
    });
    m.insert("values", |_, a| {
        want_n("values", a, 1)?;
        let d = map(a, 0)?;
        Ok(Value::list(d.read().values().cloned().collect()))
    });
    m.insert("pick", |_, a| {
        want_min("pick", a, 1)?;
        let d = map(a, 0)?;
        let mut out = MapData::new();
        for i in 1..a.len() {
            let k = s(a, i)?;
            if let Some(v) = d.get(k) {
                out.insert(k.to_string(), v);
            }
        }
        Ok(Value::map(out))
    });
    m.insert("omit", |_, a| {
        want_min("omit", a, 1)?;
        let d = map(a, 0)?;
        let mut drop = Vec::new();
        for i in 1..a.len() {
            drop.push(s(a, i)?.to_string());
        }
        let out: MapData = d
            .read()
            .iter()
            .filter(|(k, _)| !drop.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Value::map(out))
    });
    m.insert("dig", |_, a| {
        if a.len() < 3 {
            return Err(FnErr::Call("dig needs at least three arguments".into()));
        }
        let n = a.len();
        let Value::Map(d) = &a[n - 1] else {
            return Err(FnErr::Call(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                a[n - 1].type_name()
            )));
        };
        let def = a[n - 2].clone();
        let mut keys = Vec::new();
        for (i, k) in a[..n - 2].iter().enumerate() {
            match k {
                Value::String(s) => keys.push(s.to_string()),
                other => {
                    let _ = i;
                    return Err(FnErr::Call(format!(
                        "interface conversion: interface {{}} is {}, not string",
                        other.type_name()
                    )));
                }
            }
        }
        let mut cur = d.clone();
        for (i, k) in keys.iter().enumerate() {
            let Some(step) = cur.get(k) else {
                return Ok(def);
            };
            if i + 1 == keys.len() {
                return Ok(step);
            }
            match step {
                Value::Map(m) => cur = m,
                other => {
                    return Err(FnErr::Call(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        other.type_name()
                    )));
                }
            }
        }
        Ok(def)
    });
    for name in ["merge", "mustMerge"] {
        m.insert(name, |_, a| {
            want_min("merge", a, 1)?;
            let dst = map(a, 0)?;
            for i in 1..a.len() {
                let src = map(a, i)?;
                merge_into(&dst, &src, false, 0);
            }
            Ok(Value::Map(dst))
        });
    }
    for name in ["mergeOverwrite", "mustMergeOverwrite"] {
        m.insert(name, |_, a| {
            want_min("mergeOverwrite", a, 1)?;
            let dst = map(a, 0)?;
            for i in 1..a.len() {
                let src = map(a, i)?;
                merge_into(&dst, &src, true, 0);
            }
            Ok(Value::Map(dst))
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        m.insert(name, |_, a| {
            want_n("deepCopy", a, 1)?;
            Ok(a[0].deep_copy())
        });
    }
}

/// mergo.Merge (optionally WithOverride) of `src` into `dst`, in place.
fn merge_into(dst: &MapRef, src: &MapRef, overwrite: bool, depth: usize) {
    if depth > 100 || dst.ptr_eq(src) {
        return;
    }
    let entries = src.snapshot();
    for (k, sv) in entries {
        if matches!(sv, Value::Nil) {
            if overwrite {
                dst.insert(k, Value::Nil);
            }
            continue;
        }
        let dv = dst.get(&k);
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&sv, &dv) {
            merge_into(dm, sm, overwrite, depth + 1);
            if dm.read().is_empty() && sm.read().is_empty() {
                dst.insert(k, sv.clone());
            }
            continue;
        }
        let dst_empty = match &dv {
            None => true,
            Some(v) => v.is_empty(),
        };
        if overwrite || dst_empty {
            dst.insert(k, sv);
        }
    }
}
