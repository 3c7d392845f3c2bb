//! Sprig conversion and math (`numeric.go`): integer math casts to int64, float math goes
//! through decimals (`mulf 1.1 3` = 3.3), conversions never fail (0 instead).

use rand::Rng;

use super::{FnErr, Func, Res, int, to_f64, to_i64, want_min, want_n};
use crate::gofmt;
use crate::value::Value;

pub(super) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("int", |_, a| {
        want_n("int", a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    });
    m.insert("int64", |_, a| {
        want_n("int64", a, 1)?;
        Ok(Value::Int64(to_i64(&a[0])))
    });
    m.insert("float64", |_, a| {
        want_n("float64", a, 1)?;
        Ok(Value::Float(to_f64(&a[0])))
    });
    m.insert("atoi", |_, a| {
        want_n("atoi", a, 1)?;
        let x = super::s(a, 0)?;
        Ok(Value::Int(atoi(x).unwrap_or(0)))
    });
    m.insert("toDecimal", |_, a| {
        want_n("toDecimal", a, 1)?;
        let x = super::strval(&a[0]);
        let (neg, body) = match x.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, x.strip_prefix('+').unwrap_or(&x)),
        };
        let v = i64::from_str_radix(body, 8)
            .ok()
            .filter(|_| !body.is_empty() && !body.starts_with(['+', '-']));
        Ok(Value::Int64(match v {
            Some(v) if neg => -v,
            Some(v) => v,
            None => 0,
        }))
    });
    m.insert("until", |_, a| {
        want_n("until", a, 1)?;
        let n = int(a, 0)?;
        until_step(0, n, if n < 0 { -1 } else { 1 })
    });
    m.insert("untilStep", |_, a| {
        want_n("untilStep", a, 3)?;
        until_step(int(a, 0)?, int(a, 1)?, int(a, 2)?)
    });
    m.insert("add1", |_, a| {
        want_n("add1", a, 1)?;
        Ok(Value::Int64(to_i64(&a[0]).wrapping_add(1)))
    });
    m.insert("add", |_, a| {
        Ok(Value::Int64(
            a.iter().fold(0i64, |acc, x| acc.wrapping_add(to_i64(x))),
        ))
    });
    m.insert("sub", |_, a| {
        want_n("sub", a, 2)?;
        Ok(Value::Int64(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    m.insert("mul", |_, a| {
        want_min("mul", a, 1)?;
        Ok(Value::Int64(
            a[1..]
                .iter()
                .fold(to_i64(&a[0]), |acc, x| acc.wrapping_mul(to_i64(x))),
        ))
    });
    m.insert("div", |_, a| {
        want_n("div", a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err(FnErr::Call("runtime error: integer divide by zero".into()));
        }
        Ok(Value::Int64(to_i64(&a[0]).wrapping_div(d)))
    });
    m.insert("mod", |_, a| {
        want_n("mod", a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err(FnErr::Call("runtime error: integer divide by zero".into()));
        }
        Ok(Value::Int64(to_i64(&a[0]).wrapping_rem(d)))
    });
    for name in ["max", "biggest"] {
        m.insert(name, |_, a| {
            want_min("max", a, 1)?;
            Ok(Value::Int64(a.iter().map(to_i64).max().unwrap_or(0)))
        });
    }
    m.insert("min", |_, a| {
        want_min("min", a, 1)?;
        Ok(Value::Int64(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    m.insert("maxf", |_, a| {
        want_min("maxf", a, 1)?;
        Ok(Value::Float(
            a.iter().map(to_f64).fold(f64::NEG_INFINITY, go_max),
        ))
    });
    m.insert("minf", |_, a| {
        want_min("minf", a, 1)?;
        Ok(Value::Float(
            a.iter().map(to_f64).fold(f64::INFINITY, go_min),
        ))
    });
    m.insert("randInt", |_, a| {
        want_n("randInt", a, 2)?;
        let (lo, hi) = (to_i64(&a[0]), to_i64(&a[1]));
        if hi <= lo {
            return Err(FnErr::Call("invalid argument to Intn".into()));
        }
        Ok(Value::Int(rand::thread_rng().gen_range(lo..hi)))
    });
    m.insert("add1f", |_, a| {
        want_n("add1f", a, 1)?;
        Ok(Value::Float(dec_op(to_f64(&a[0]), &[1.0], '+')))
    });
    m.insert("addf", |_, a| {
        let v: Vec<f64> = a.iter().map(to_f64).collect();
        Ok(Value::Float(dec_op(0.0, &v, '+')))
    });
    m.insert("subf", |_, a| {
        want_min("subf", a, 1)?;
        let v: Vec<f64> = a[1..].iter().map(to_f64).collect();
        Ok(Value::Float(dec_op(to_f64(&a[0]), &v, '-')))
    });
    m.insert("mulf", |_, a| {
        want_min("mulf", a, 1)?;
        let v: Vec<f64> = a[1..].iter().map(to_f64).collect();
        Ok(Value::Float(dec_op(to_f64(&a[0]), &v, '*')))
    });
    m.insert("divf", |_, a| {
        want_min("divf", a, 1)?;
        let v: Vec<f64> = a[1..].iter().map(to_f64).collect();
        if v.contains(&0.0) {
            return Err(FnErr::Call("decimal division by 0".into()));
        }
        Ok(Value::Float(dec_op(to_f64(&a[0]), &v, '/')))
    });
    m.insert("ceil", |_, a| {
        want_n("ceil", a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).ceil()))
    });
    m.insert("floor", |_, a| {
        want_n("floor", a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).floor()))
    });
    m.insert("round", |_, a| {
        want_min("round", a, 2)?;
        let val = to_f64(&a[0]);
        let places = int(a, 1)? as f64;
        let round_on = a.get(2).map(to_f64).unwrap_or(0.5);
        let pow = 10f64.powf(places);
        let digit = pow * val;
        let frac = digit - digit.trunc();
        let r = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(r / pow))
    });
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// strconv.Atoi: base 10, optional sign, nothing else.
fn atoi(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn until_step(start: i64, stop: i64, step: i64) -> Res {
    let mut v = Vec::new();
    let limit = 1_000_000usize;
    if stop < start {
        if step >= 0 {
            return Ok(Value::list(v));
        }
        let mut i = start;
        while i > stop {
            v.push(Value::Int(i));
            if v.len() > limit {
                return Err(FnErr::Call("untilStep: too many elements".into()));
            }
            i += step;
        }
        return Ok(Value::list(v));
    }
    if step <= 0 {
        return Ok(Value::list(v));
    }
    let mut i = start;
    while i < stop {
        v.push(Value::Int(i));
        if v.len() > limit {
            return Err(FnErr::Call("untilStep: too many elements".into()));
        }
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(Value::list(v))
}

/// A decimal as mantissa × 10^-scale (shopspring/decimal NewFromFloat uses the shortest
/// representation, which is what makes `mulf 1.1 3` exactly 3.3).
#[derive(Clone, Copy)]
struct Dec {
    m: i128,
    scale: u32,
}

fn to_dec(f: f64) -> Option<Dec> {
    if !f.is_finite() {
        return None;
    }
    let s = gofmt::format_f(f, None);
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    let (ip, fp) = s.split_once('.').unwrap_or((&s, ""));
    if ip.len() + fp.len() > 36 {
        return None;
    }
    let m: i128 = format!("{ip}{fp}").parse().ok()?;
    Some(Dec {
        m: if neg { -m } else { m },
        scale: fp.len() as u32,
    })
}

fn rescale(d: Dec, scale: u32) -> Option<Dec> {
    let k = scale.checked_sub(d.scale)?;
    Some(Dec {
        m: d.m.checked_mul(10i128.checked_pow(k)?)?,
        scale,
    })
}

fn dec_to_f64(d: Dec) -> f64 {
    let neg = d.m < 0;
    let digits = d.m.unsigned_abs().to_string();
    let s = if d.scale == 0 {
        digits
    } else if digits.len() as u32 > d.scale {
        let p = digits.len() - d.scale as usize;
        format!("{}.{}", &digits[..p], &digits[p..])
    } else {
        format!(
            "0.{}{}",
            "0".repeat(d.scale as usize - digits.len()),
            digits
        )
    };
    let v: f64 = s.parse().unwrap_or(0.0);
    if neg { -v } else { v }
}

fn dec_op(first: f64, rest: &[f64], op: char) -> f64 {
    let exact = (|| -> Option<f64> {
        let mut acc = to_dec(first)?;
        for &x in rest {
            let d = to_dec(x)?;
            acc = match op {
                '+' | '-' => {
                    let sc = acc.scale.max(d.scale);
                    let (a, b) = (rescale(acc, sc)?, rescale(d, sc)?);
                    Dec {
                        m: if op == '+' {
                            a.m.checked_add(b.m)?
                        } else {
                            a.m.checked_sub(b.m)?
                        },
                        scale: sc,
                    }
                }
                '*' => Dec {
                    m: acc.m.checked_mul(d.m)?,
                    scale: acc.scale + d.scale,
                },
                _ => {
                    // division: shopspring DivisionPrecision = 16 digits after the point
                    if d.m == 0 {
                        return None;
                    }
                    let target = 16u32;
                    let num = rescale(acc, acc.scale.max(d.scale + target))?;
                    let q = num.m.checked_div(d.m)?;
                    let scale = num.scale - d.scale;
                    // round half away from zero at `target` digits
                    let dq = Dec { m: q, scale };

                    if scale > target {
                        let p = 10i128.pow(scale - target);
                        let r = dq.m / p;
                        Dec {
                            m: r,
                            scale: target,
                        }
                    } else {
                        dq
                    }
                }
            };
            if acc.scale > 60 {
                return None;
            }
        }
        Some(dec_to_f64(acc))
    })();
    exact.unwrap_or_else(|| {
        rest.iter().fold(first, |a, &b| match op {
            '+' => a + b,
            '-' => a - b,
            '*' => a * b,
            _ => a / b,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_math() {
        assert_eq!(dec_op(1.1, &[3.0], '*'), 3.3);
        assert_eq!(dec_op(0.0, &[0.1, 0.2], '+'), 0.3);
        assert_eq!(dec_op(1.0, &[3.0], '/'), 0.3333333333333333);
        assert_eq!(dec_op(10.0, &[4.0], '/'), 2.5);
    }
}
