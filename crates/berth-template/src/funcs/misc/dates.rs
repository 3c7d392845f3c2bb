//! Sprig date functions (`date.go`) with Go's reference-time layouts (`2006-01-02 15:04:05`)
//! and Go's duration text.

use std::any::Any;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::funcs::{FnErr, Func, Res, s, want_n};
use crate::value::{Object, Value};

/// A Go `time.Time` in templates.
#[derive(Clone, Debug)]
pub(crate) struct Time(pub(crate) Zoned);

impl Object for Time {
    fn field(&self, name: &str) -> Option<Value> {
        let z = &self.0;
        Some(match name {
            "Unix" => Value::Int(z.timestamp().as_second()),
            "UnixNano" => Value::Int(z.timestamp().as_nanosecond() as i64),
            "UnixMilli" => Value::Int(z.timestamp().as_millisecond()),
            "Year" => Value::Int(z.year() as i64),
            "YearDay" => Value::Int(z.day_of_year() as i64),
            "Day" => Value::Int(z.day() as i64),
            "Hour" => Value::Int(z.hour() as i64),
            "Minute" => Value::Int(z.minute() as i64),
            "Second" => Value::Int(z.second() as i64),
            "Nanosecond" => Value::Int(z.subsec_nanosecond() as i64),
            "Month" => Value::str(MONTHS[z.month() as usize - 1]),
            "Weekday" => Value::str(DAYS[z.weekday().to_sunday_zero_offset() as usize]),
            "UTC" => Value::object(Time(z.with_time_zone(TimeZone::UTC))),
            "Local" => Value::object(Time(z.with_time_zone(TimeZone::system()))),
            "String" => Value::str(self.display()),
            _ => return None,
        })
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Format" => Some(match args {
                [Value::String(l)] => Ok(Value::str(format(&self.0, l))),
                _ => Err(format!(
                    "wrong number of args for Format: want 1 got {}",
                    args.len()
                )),
            }),
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "time.Time".into()
    }
    fn display(&self) -> String {
        format(&self.0, "2006-01-02 15:04:05.999999999 -0700 MST")
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(format(&self.0, "2006-01-02T15:04:05.999999999Z07:00"))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn zero_time() -> Zoned {
    jiff::civil::date(1, 1, 1)
        .at(0, 0, 0, 0)
        .to_zoned(TimeZone::UTC)
        .unwrap_or_else(|_| Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC))
}

fn as_time(v: &Value) -> Option<Zoned> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<Time>().map(|t| t.0.clone()),
        _ => None,
    }
}

/// date/dateInZone input: a time, or an int epoch; anything else means now.
fn input_time(v: &Value) -> Zoned {
    if let Some(z) = as_time(v) {
        return z;
    }
    if let Value::Int(i) = v
        && let Ok(ts) = Timestamp::from_second(*i)
    {
        return ts.to_zoned(TimeZone::system());
    }
    Zoned::now()
}

fn zone(name: &str) -> TimeZone {
    match name {
        "Local" => TimeZone::system(),
        "UTC" | "" => TimeZone::UTC,
        other => TimeZone::get(other).unwrap_or(TimeZone::UTC),
    }
}

fn date_in_zone(layout: &str, v: &Value, z: &str) -> String {
    format(&input_time(v).with_time_zone(zone(z)), layout)
}

pub(crate) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("now", |_, _| Ok(Value::object(Time(Zoned::now()))));
    m.insert("date", |_, a| {
        want_n("date", a, 2)?;
        Ok(Value::str(date_in_zone(s(a, 0)?, &a[1], "Local")))
    });
    for name in ["dateInZone", "date_in_zone"] {
        m.insert(name, |_, a| {
            want_n("dateInZone", a, 3)?;
            Ok(Value::str(date_in_zone(s(a, 0)?, &a[1], s(a, 2)?)))
        });
    }
    m.insert("htmlDate", |_, a| {
        want_n("htmlDate", a, 1)?;
        Ok(Value::str(date_in_zone("2006-01-02", &a[0], "Local")))
    });
    m.insert("htmlDateInZone", |_, a| {
        want_n("htmlDateInZone", a, 2)?;
        Ok(Value::str(date_in_zone("2006-01-02", &a[0], s(a, 1)?)))
    });
    for name in ["dateModify", "date_modify"] {
        m.insert(name, |_, a| {
            want_n("dateModify", a, 2)?;
            let t = time_arg(a, 1)?;
            match parse_duration(s(a, 0)?) {
                Some(d) => Ok(Value::object(Time(add_nanos(&t, d)))),
                None => Ok(Value::object(Time(t))),
            }
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        m.insert(name, |_, a| {
            want_n("mustDateModify", a, 2)?;
            let t = time_arg(a, 1)?;
            let f = s(a, 0)?;
            match parse_duration(f) {
                Some(d) => Ok(Value::object(Time(add_nanos(&t, d)))),
                None => Err(FnErr::Call(format!("time: invalid duration {:?}", f))),
            }
        });
    }
    m.insert("toDate", |_, a| {
        want_n("toDate", a, 2)?;
        Ok(Value::object(Time(
            parse(s(a, 0)?, s(a, 1)?).unwrap_or_else(zero_time),
        )))
    });
    m.insert("mustToDate", |_, a| {
        want_n("mustToDate", a, 2)?;
        let (l, v) = (s(a, 0)?, s(a, 1)?);
        parse(l, v)
            .map(|z| Value::object(Time(z)))
            .ok_or_else(|| FnErr::Call(format!("parsing time {:?} as {:?}: cannot parse", v, l)))
    });
    m.insert("unixEpoch", |_, a| {
        want_n("unixEpoch", a, 1)?;
        let t = time_arg(a, 0)?;
        Ok(Value::str(t.timestamp().as_second().to_string()))
    });
    m.insert("ago", |_, a| {
        want_n("ago", a, 1)?;
        let t = input_time(&a[0]);
        let d = Zoned::now().timestamp().as_nanosecond() - t.timestamp().as_nanosecond();
        let secs = (d as f64 / 1e9).round() as i128 * 1_000_000_000;
        Ok(Value::str(go_duration(secs)))
    });
    m.insert("duration", |_, a| {
        want_n("duration", a, 1)?;
        let n: i64 = match &a[0] {
            Value::String(x) => x.parse().unwrap_or(0),
            Value::Int(i) => *i,
            _ => 0,
        };
        Ok(Value::str(go_duration(n as i128 * 1_000_000_000)))
    });
    m.insert("durationRound", |_, a| {
        want_n("durationRound", a, 1)?;
        let d: i128 = match &a[0] {
            Value::String(x) => parse_duration(x).unwrap_or(0),
            Value::Int(i) => *i as i128,
            v => match as_time(v) {
                Some(t) => Zoned::now().timestamp().as_nanosecond() - t.timestamp().as_nanosecond(),
                None => 0,
            },
        };
        Ok(Value::str(duration_round(d)))
    });
}

fn time_arg(a: &[Value], i: usize) -> Result<Zoned, FnErr> {
    as_time(&a[i]).ok_or_else(|| {
        FnErr::Arg(
            i,
            format!(
                "wrong type for value; expected time.Time; got {}",
                crate::funcs::go_type(&a[i])
            ),
        )
    })
}

fn add_nanos(t: &Zoned, d: i128) -> Zoned {
    let ns = t.timestamp().as_nanosecond().saturating_add(d);
    match Timestamp::from_nanosecond(ns) {
        Ok(ts) => ts.to_zoned(t.time_zone().clone()),
        Err(_) => t.clone(),
    }
}

fn duration_round(d: i128) -> String {
    let u = d.unsigned_abs();
    const S: u128 = 1_000_000_000;
    let (year, month, day, hour, minute) = (
        S * 3600 * 24 * 365,
        S * 3600 * 24 * 30,
        S * 3600 * 24,
        S * 3600,
        S * 60,
    );
    if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else if u > S {
        format!("{}s", u / S)
    } else {
        "0s".into()
    }
}

/// time.Duration.String.
pub(crate) fn go_duration(d: i128) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", frac(u, div));
    }
    let total_s = u / 1_000_000_000;
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    let secs_ns = u % 60_000_000_000;
    let sec = frac(secs_ns, 1_000_000_000);
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{sec}s"));
    out
}

fn frac(v: u128, div: u128) -> String {
    let ip = v / div;
    let mut fp = v % div;
    if fp == 0 {
        return ip.to_string();
    }
    let mut digits = String::new();
    let mut d = div;
    while d > 1 {
        d /= 10;
        digits.push(char::from(b'0' + (fp / d) as u8));
        fp %= d;
    }
    format!("{ip}.{}", digits.trim_end_matches('0'))
}

/// time.ParseDuration → nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        let num: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let uend = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..uend];
        rest = &rest[uend..];
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += num * mult;
    }
    let v = total.round() as i128;
    Some(if neg { -v } else { v })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// (Z-form, layout text)
    Offset(bool, &'static str),
    /// (fixed digits?, count, separator)
    Frac(bool, usize, char),
}

fn tokenize(layout: &str) -> Vec<Tok> {
    let b = layout.as_bytes();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let starts = |i: usize, p: &str| layout[i..].starts_with(p);
    while i < b.len() {
        let mut tok: Option<(Tok, usize)> = None;
        match b[i] {
            b'J' => {
                if starts(i, "January") {
                    tok = Some((Tok::LongMonth, 7));
                } else if starts(i, "Jan") {
                    tok = Some((Tok::Month, 3));
                }
            }
            b'M' => {
                if starts(i, "Monday") {
                    tok = Some((Tok::LongWeekDay, 6));
                } else if starts(i, "Mon") {
                    tok = Some((Tok::WeekDay, 3));
                } else if starts(i, "MST") {
                    tok = Some((Tok::TZ, 3));
                }
            }
            b'0' => {
                if starts(i, "002") {
                    tok = Some((Tok::ZeroYearDay, 3));
                } else if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) {
                    tok = Some((
                        match b[i + 1] {
                            b'1' => Tok::ZeroMonth,
                            b'2' => Tok::ZeroDay,
                            b'3' => Tok::ZeroHour12,
                            b'4' => Tok::ZeroMinute,
                            b'5' => Tok::ZeroSecond,
                            _ => Tok::Year,
                        },
                        2,
                    ));
                }
            }
            b'1' => {
                if starts(i, "15") {
                    tok = Some((Tok::Hour, 2));
                } else {
                    tok = Some((Tok::NumMonth, 1));
                }
            }
            b'2' => {
                if starts(i, "2006") {
                    tok = Some((Tok::LongYear, 4));
                } else {
                    tok = Some((Tok::Day, 1));
                }
            }
            b'_' => {
                if starts(i, "_2") {
                    if starts(i, "_2006") {
                        lit.push('_');
                        tok = Some((Tok::LongYear, 5));
                    } else {
                        tok = Some((Tok::UnderDay, 2));
                    }
                } else if starts(i, "__2") {
                    tok = Some((Tok::UnderYearDay, 3));
                }
            }
            b'3' => tok = Some((Tok::Hour12, 1)),
            b'4' => tok = Some((Tok::Minute, 1)),
            b'5' => tok = Some((Tok::Second, 1)),
            b'P' if starts(i, "PM") => tok = Some((Tok::PM, 2)),
            b'p' if starts(i, "pm") => tok = Some((Tok::Pm, 2)),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                for p in ["070000", "07:00:00", "0700", "07:00", "07"] {
                    if starts(i + 1, p) {
                        let name: &'static str = match p {
                            "070000" => "070000",
                            "07:00:00" => "07:00:00",
                            "0700" => "0700",
                            "07:00" => "07:00",
                            _ => "07",
                        };
                        tok = Some((Tok::Offset(z, name), 1 + p.len()));
                        break;
                    }
                }
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if !(j < b.len() && b[j].is_ascii_digit()) {
                    tok = Some((Tok::Frac(ch == b'0', j - i - 1, b[i] as char), j - i));
                }
            }
            _ => {}
        }
        match tok {
            Some((t, n)) => {
                if !lit.is_empty() {
                    out.push(Tok::Lit(std::mem::take(&mut lit)));
                }
                out.push(t);
                i += n;
            }
            None => {
                let c = layout[i..].chars().next().unwrap_or(' ');
                lit.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !lit.is_empty() {
        out.push(Tok::Lit(lit));
    }
    out
}

/// time.Time.Format.
pub(crate) fn format(z: &Zoned, layout: &str) -> String {
    let mut out = String::new();
    let offset = z.offset().seconds();
    for t in tokenize(layout) {
        match t {
            Tok::Lit(s) => out.push_str(&s),
            Tok::LongMonth => out.push_str(MONTHS[z.month() as usize - 1]),
            Tok::Month => out.push_str(&MONTHS[z.month() as usize - 1][..3]),
            Tok::NumMonth => out.push_str(&z.month().to_string()),
            Tok::ZeroMonth => out.push_str(&format!("{:02}", z.month())),
            Tok::LongWeekDay => out.push_str(DAYS[z.weekday().to_sunday_zero_offset() as usize]),
            Tok::WeekDay => out.push_str(&DAYS[z.weekday().to_sunday_zero_offset() as usize][..3]),
            Tok::Day => out.push_str(&z.day().to_string()),
            Tok::UnderDay => out.push_str(&format!("{:>2}", z.day())),
            Tok::ZeroDay => out.push_str(&format!("{:02}", z.day())),
            Tok::UnderYearDay => out.push_str(&format!("{:>3}", z.day_of_year())),
            Tok::ZeroYearDay => out.push_str(&format!("{:03}", z.day_of_year())),
            Tok::Hour => out.push_str(&format!("{:02}", z.hour())),
            Tok::Hour12 => out.push_str(&h12(z.hour()).to_string()),
            Tok::ZeroHour12 => out.push_str(&format!("{:02}", h12(z.hour()))),
            Tok::Minute => out.push_str(&z.minute().to_string()),
            Tok::ZeroMinute => out.push_str(&format!("{:02}", z.minute())),
            Tok::Second => out.push_str(&z.second().to_string()),
            Tok::ZeroSecond => out.push_str(&format!("{:02}", z.second())),
            Tok::LongYear => out.push_str(&format!("{:04}", z.year())),
            Tok::Year => out.push_str(&format!("{:02}", z.year().rem_euclid(100))),
            Tok::PM => out.push_str(if z.hour() >= 12 { "PM" } else { "AM" }),
            Tok::Pm => out.push_str(if z.hour() >= 12 { "pm" } else { "am" }),
            Tok::TZ => {
                let abbr = z
                    .time_zone()
                    .to_offset_info(z.timestamp())
                    .abbreviation()
                    .to_string();
                if abbr.is_empty() || abbr.starts_with(['+', '-']) {
                    out.push_str(&offset_text(offset, "0700", false));
                } else {
                    out.push_str(&abbr);
                }
            }
            Tok::Offset(zform, kind) => {
                if zform && offset == 0 {
                    out.push('Z');
                } else {
                    out.push_str(&offset_text(offset, kind, true));
                }
            }
            Tok::Frac(fixed, n, sep) => {
                let ns = z.subsec_nanosecond();
                let digits = format!("{:09}", ns);
                let d = &digits[..n.min(9)];
                if fixed {
                    out.push(sep);
                    out.push_str(d);
                } else {
                    let t = d.trim_end_matches('0');
                    if !t.is_empty() {
                        out.push(sep);
                        out.push_str(t);
                    }
                }
            }
        }
    }
    out
}

fn h12(h: i8) -> i8 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

fn offset_text(secs: i32, kind: &str, _z: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    match kind {
        "070000" => format!("{sign}{h:02}{m:02}{s:02}"),
        "07:00:00" => format!("{sign}{h:02}:{m:02}:{s:02}"),
        "0700" => format!("{sign}{h:02}{m:02}"),
        "07:00" => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}"),
    }
}

/// time.ParseInLocation(layout, value, Local) for the common numeric layouts.
pub(crate) fn parse(layout: &str, value: &str) -> Option<Zoned> {
    let mut v = value;
    let (mut year, mut month, mut day) = (1i16, 1i8, 1i8);
    let (mut hour, mut min, mut sec, mut nanos) = (0i8, 0i8, 0i8, 0i32);
    let mut pm: Option<bool> = None;
    let mut off: Option<i32> = None;
    fn num(v: &mut &str, min: usize, max: usize) -> Option<i64> {
        let n = v.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let x = v[..n].parse().ok()?;
        *v = &v[n..];
        Some(x)
    }
    for t in tokenize(layout) {
        match t {
            Tok::Lit(l) => v = v.strip_prefix(l.as_str())?,
            Tok::LongYear => year = num(&mut v, 4, 4)? as i16,
            Tok::Year => {
                let y = num(&mut v, 2, 2)?;
                year = if y >= 69 { 1900 + y } else { 2000 + y } as i16;
            }
            Tok::ZeroMonth | Tok::NumMonth => month = num(&mut v, 1, 2)? as i8,
            Tok::LongMonth | Tok::Month => {
                let i = MONTHS.iter().position(|m| {
                    let cand = if t == Tok::Month { &m[..3] } else { m };
                    v.len() >= cand.len() && v[..cand.len()].eq_ignore_ascii_case(cand)
                })?;
                let l = if t == Tok::Month { 3 } else { MONTHS[i].len() };
                v = &v[l..];
                month = i as i8 + 1;
            }
            Tok::LongWeekDay | Tok::WeekDay => {
                let l = v
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(v.len());
                v = &v[l..];
            }
            Tok::ZeroDay | Tok::Day => day = num(&mut v, 1, 2)? as i8,
            Tok::UnderDay => {
                v = v.trim_start_matches(' ');
                day = num(&mut v, 1, 2)? as i8;
            }
            Tok::UnderYearDay | Tok::ZeroYearDay => {
                num(&mut v, 1, 3)?;
            }
            Tok::Hour => hour = num(&mut v, 1, 2)? as i8,
            Tok::Hour12 | Tok::ZeroHour12 => hour = num(&mut v, 1, 2)? as i8,
            Tok::Minute | Tok::ZeroMinute => min = num(&mut v, 1, 2)? as i8,
            Tok::Second | Tok::ZeroSecond => {
                sec = num(&mut v, 1, 2)? as i8;
                // Go accepts a fractional second after seconds even if the layout lacks it
                if v.starts_with('.') && v[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    v = &v[1..];
                    let n = v.bytes().take_while(u8::is_ascii_digit).count();
                    let d = format!("{:0<9}", &v[..n.min(9)]);
                    nanos = d.parse().ok()?;
                    v = &v[n..];
                }
            }
            Tok::PM | Tok::Pm => {
                let p = v.get(..2)?.to_ascii_uppercase();
                pm = Some(p == "PM");
                v = &v[2..];
            }
            Tok::TZ => {
                let l = v
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(v.len());
                if &v[..l] == "UTC" || &v[..l] == "GMT" {
                    off = Some(0);
                }
                v = &v[l..];
            }
            Tok::Offset(zf, kind) => {
                if zf && v.starts_with('Z') {
                    v = &v[1..];
                    off = Some(0);
                } else {
                    let sign = match v.as_bytes().first()? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    v = &v[1..];
                    let h = num(&mut v, 2, 2)?;
                    let mut m = 0;
                    if kind.contains(':') {
                        v = v.strip_prefix(':')?;
                    }
                    if kind != "07" {
                        m = num(&mut v, 2, 2)?;
                    }
                    off = Some(sign * (h * 3600 + m * 60) as i32);
                }
            }
            Tok::Frac(..) => {
                let rest = v.strip_prefix(['.', ','])?;
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                let d = format!("{:0<9}", &rest[..n.min(9)]);
                nanos = d.parse().ok()?;
                v = &rest[n..];
            }
        }
    }
    if !v.is_empty() {
        return None;
    }
    if let Some(p) = pm {
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    let dt = jiff::civil::DateTime::new(year, month, day, hour, min, sec, nanos).ok()?;
    let tz = match off {
        Some(o) => TimeZone::fixed(jiff::tz::Offset::from_seconds(o).ok()?),
        None => TimeZone::system(),
    };
    dt.to_zoned(tz).ok()
}

#[allow(dead_code)]
fn unused() -> Res {
    Ok(Value::Nil)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let z = parse("2006-01-02T15:04:05Z07:00", "2021-03-04T05:06:07Z").unwrap();
        assert_eq!(format(&z, "2006-01-02 15:04:05"), "2021-03-04 05:06:07");
        assert_eq!(format(&z, "Jan _2 3:04PM"), "Mar  4 5:06AM");
        assert_eq!(format(&z, "Monday, 02-Jan-06"), "Thursday, 04-Mar-21");
        assert_eq!(format(&z, "-07:00 Z07:00"), "+00:00 Z");
        assert_eq!(
            format(&z, "2006-01-02 15:04:05.999999999 -0700 MST"),
            "2021-03-04 05:06:07 +0000 UTC"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration(90 * 1_000_000_000), "1m30s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(3600 * 1_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(duration_round(parse_duration("400h").unwrap()), "16d");
    }
}
