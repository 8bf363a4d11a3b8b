//! Per-column dictionaries: each distinct text value is stored and folded once, and rows hold
//! small codes. Exact filters compare codes; wildcards and free text test each distinct value
//! once per query instead of once per row.

use audit_core::text::fold;
use rustc_hash::FxHashMap;

/// The distinct values of one text column.
#[derive(Debug)]
pub(crate) struct Dictionary {
    values: Vec<Box<str>>,
    /// The folded value, where folding changes it.
    folded: Vec<Option<Box<str>>>,
    codes: FxHashMap<Box<str>, u32>,
    /// The code interned last: consecutive entries often repeat a value.
    last: u32,
}

impl Default for Dictionary {
    fn default() -> Self {
        // Code 0 is the empty string.
        let mut codes = FxHashMap::default();
        codes.insert(Box::from(""), 0);
        Dictionary {
            values: vec![Box::from("")],
            folded: vec![None],
            codes,
            last: 0,
        }
    }
}

impl Dictionary {
    /// The code of `value`, adding it when new.
    pub(crate) fn intern(&mut self, value: &str) -> u32 {
        // Missing values and repeats of the previous value skip hashing.
        if value.is_empty() {
            return 0;
        }
        if self.value(self.last) == value {
            return self.last;
        }
        if let Some(code) = self.codes.get(value) {
            self.last = *code;
            return *code;
        }
        let code = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        let folded = fold(value);
        self.folded
            .push((folded != value).then(|| folded.into_boxed_str()));
        self.values.push(value.into());
        self.codes.insert(value.into(), code);
        self.last = code;
        code
    }

    /// How many codes there are (the empty value's included).
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The code of `value`, if any row holds it.
    pub(crate) fn code(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// The value of `code`.
    pub(crate) fn value(&self, code: u32) -> &str {
        self.values.get(code as usize).map_or("", |v| v)
    }

    /// For every code, whether its folded value satisfies `test`.
    pub(crate) fn codes_where(&self, test: impl Fn(&str) -> bool) -> Vec<bool> {
        self.values
            .iter()
            .zip(&self.folded)
            .map(|(value, folded)| test(folded.as_deref().unwrap_or(value)))
            .collect()
    }
}
