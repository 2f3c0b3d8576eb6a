//! Plain-byte inputs and outputs: a byte buffer plus an item index.
//!
//! Everything a strategy moves is plain bytes, so the same input can be borrowed by threads,
//! placed in a shared-memory segment, or copied through a pipe unchanged. A task sees its items
//! through [`Items`], a zero-copy view that works the same over the whole input, a slice of it,
//! or the bytes a worker process received for that task alone.

use std::ops::Range;

/// Where each item lives in a byte buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `count` items of `len` bytes each; item `i` is bytes `i * len .. (i + 1) * len`.
    Fixed {
        /// Bytes per item.
        len: usize,
        /// Number of items.
        count: usize,
    },
    /// Item `i` is bytes `offsets[i] .. offsets[i + 1]`; `offsets` starts at 0 and has one entry
    /// more than there are items.
    Offsets(Vec<u64>),
}

impl Layout {
    /// Builds an offsets layout from item lengths.
    pub fn from_lengths(lengths: impl IntoIterator<Item = usize>) -> Self {
        let mut offsets = vec![0u64];
        let mut end = 0u64;
        for len in lengths {
            end += len as u64;
            offsets.push(end);
        }
        Layout::Offsets(offsets)
    }

    /// Number of items.
    pub fn count(&self) -> usize {
        match self {
            Layout::Fixed { count, .. } => *count,
            Layout::Offsets(offsets) => offsets.len().saturating_sub(1),
        }
    }

    /// Total bytes of all items.
    pub fn total_bytes(&self) -> usize {
        match self {
            Layout::Fixed { len, count } => len * count,
            Layout::Offsets(offsets) => offsets.last().map_or(0, |&end| end as usize),
        }
    }

    /// The bytes holding items `items` (a range of item indices).
    pub fn byte_range(&self, items: Range<usize>) -> Range<usize> {
        match self {
            Layout::Fixed { len, .. } => items.start * len..items.end * len,
            Layout::Offsets(offsets) => offsets[items.start] as usize..offsets[items.end] as usize,
        }
    }

    fn index(&self) -> Index<'_> {
        match self {
            Layout::Fixed { len, .. } => Index::Fixed(*len),
            Layout::Offsets(offsets) => Index::Offsets(offsets),
        }
    }
}

/// A workload's generated input: plain bytes plus where each item lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The items' bytes, back to back.
    pub bytes: Vec<u8>,
    /// Where each item lives in `bytes`.
    pub layout: Layout,
}

impl Input {
    /// Wraps bytes and a layout, checking that they agree.
    ///
    /// # Panics
    /// When the layout does not cover `bytes` exactly: a generator bug, not user input.
    pub fn new(bytes: Vec<u8>, layout: Layout) -> Self {
        assert_eq!(
            layout.total_bytes(),
            bytes.len(),
            "input layout does not cover its bytes"
        );
        Self { bytes, layout }
    }

    /// Number of items.
    pub fn items(&self) -> usize {
        self.layout.count()
    }

    /// A view of every item.
    pub fn view(&self) -> Items<'_> {
        Items {
            bytes: &self.bytes,
            index: self.layout.index(),
            first: 0,
            count: self.layout.count(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Index<'a> {
    Fixed(usize),
    /// Absolute offsets of the viewed items (one more than there are items); the viewed bytes
    /// start at `offsets[0]`.
    Offsets(&'a [u64]),
}

/// A borrowed run of consecutive items: all of an input, or one task's share of it.
///
/// Item numbers passed to [`Items::get`] are relative to the view (0 is its first item);
/// [`Items::first`] tells the view's first item in the whole input.
#[derive(Clone, Copy, Debug)]
pub struct Items<'a> {
    bytes: &'a [u8],
    index: Index<'a>,
    first: usize,
    count: usize,
}

impl<'a> Items<'a> {
    /// A view over bytes that hold `count` fixed-size items starting with item `first`.
    ///
    /// This is how a worker that received only one task's bytes rebuilds its view.
    pub fn fixed(bytes: &'a [u8], len: usize, first: usize) -> Self {
        let count = bytes.len().checked_div(len).unwrap_or(0);
        Self {
            bytes,
            index: Index::Fixed(len),
            first,
            count,
        }
    }

    /// A view over bytes that hold the items whose absolute offsets are `offsets` (one more
    /// entry than items; `bytes` starts at `offsets[0]`), starting with item `first`.
    pub fn with_offsets(bytes: &'a [u8], offsets: &'a [u64], first: usize) -> Self {
        Self {
            bytes,
            index: Index::Offsets(offsets),
            first,
            count: offsets.len().saturating_sub(1),
        }
    }

    /// Number of items in the view.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the view holds no item.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The index, in the whole input, of the view's first item.
    pub fn first(&self) -> usize {
        self.first
    }

    /// All bytes of the viewed items, back to back.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bytes of item `i` of the view.
    ///
    /// # Panics
    /// When `i >= self.len()`.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        assert!(i < self.count, "item {i} out of a view of {}", self.count);
        match self.index {
            Index::Fixed(len) => &self.bytes[i * len..(i + 1) * len],
            Index::Offsets(offsets) => {
                let base = offsets[0];
                &self.bytes[(offsets[i] - base) as usize..(offsets[i + 1] - base) as usize]
            }
        }
    }

    /// Iterates over the items' bytes.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.count).map(move |i| self.get(i))
    }

    /// The sub-view of items `range` (relative to this view).
    ///
    /// # Panics
    /// When the range reaches past the view.
    pub fn slice(&self, range: Range<usize>) -> Items<'a> {
        assert!(
            range.start <= range.end && range.end <= self.count,
            "items {range:?} out of a view of {}",
            self.count
        );
        let count = range.end - range.start;
        match self.index {
            Index::Fixed(len) => Items {
                bytes: &self.bytes[range.start * len..range.end * len],
                index: Index::Fixed(len),
                first: self.first + range.start,
                count,
            },
            Index::Offsets(offsets) => {
                let base = offsets[0];
                let sub = &offsets[range.start..=range.end];
                Items {
                    bytes: &self.bytes[(sub[0] - base) as usize..(sub[count] - base) as usize],
                    index: Index::Offsets(sub),
                    first: self.first + range.start,
                    count,
                }
            }
        }
    }

    /// The absolute offsets of the viewed items, when the layout has offsets (what a process
    /// strategy sends beside the bytes).
    pub fn offsets(&self) -> Option<&'a [u64]> {
        match self.index {
            Index::Fixed(_) => None,
            Index::Offsets(offsets) => Some(offsets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Input {
        let items = ["a", "bc", "", "def", "g"];
        let bytes = items.concat().into_bytes();
        Input::new(bytes, Layout::from_lengths(items.iter().map(|s| s.len())))
    }

    #[test]
    fn offsets_view_slices_without_copying() {
        let input = words();
        let all = input.view();
        assert_eq!(all.len(), 5);
        assert_eq!(all.get(3), b"def");
        let mid = all.slice(1..4);
        assert_eq!(mid.first(), 1);
        assert_eq!(mid.iter().collect::<Vec<_>>(), [&b"bc"[..], b"", b"def"]);
        assert_eq!(mid.bytes(), b"bcdef");
        let inner = mid.slice(2..3);
        assert_eq!(inner.first(), 3);
        assert_eq!(inner.get(0), b"def");
        // A worker that received only `mid`'s bytes and offsets sees the same items.
        let copied = mid.bytes().to_vec();
        let offsets = mid.offsets().unwrap().to_vec();
        let rebuilt = Items::with_offsets(&copied, &offsets, mid.first());
        assert_eq!(rebuilt.get(2), b"def");
    }

    #[test]
    fn fixed_view_and_byte_ranges() {
        let input = Input::new((0u8..12).collect(), Layout::Fixed { len: 3, count: 4 });
        assert_eq!(input.layout.byte_range(1..3), 3..9);
        let view = input.view().slice(2..4);
        assert_eq!(view.get(1), &[9, 10, 11]);
        assert_eq!(Items::fixed(&input.bytes[3..9], 3, 1).get(1), &[6, 7, 8]);
        assert_eq!(words().layout.byte_range(1..4), 1..6);
    }

    #[test]
    #[should_panic(expected = "does not cover")]
    fn rejects_a_layout_that_does_not_cover_the_bytes() {
        Input::new(vec![0; 5], Layout::Fixed { len: 2, count: 2 });
    }
}
