use std::collections::HashMap;

use super::Func;

pub(super) fn register(_m: &mut HashMap<&'static str, Func>) {}
