//! The mutator: seeded, corpus-based, JSON-aware.

/// Values that break naive decoders: huge and negative numbers, numbers as strings, empty and
/// deep structures, control characters, wrong types.
const EDGE_VALUES: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "1e400",
    "0.5",
    "\"201\"",
    "\"\"",
    "\"\\u0000\\u001b[2J\"",
    "null",
    "true",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "\"%+1\"",
    "\"..\"",
];

/// The next input: a corpus entry, mutated a few times (or, now and then, random bytes).
pub(crate) fn next_input(rng: &mut fastrand::Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    if corpus.is_empty() || rng.u8(..) < 8 {
        let len = rng.usize(0..256);
        return (0..len).map(|_| rng.u8(..)).collect();
    }
    let mut input = corpus[rng.usize(..corpus.len())].clone();
    for _ in 0..rng.usize(1..=4) {
        mutate(rng, &mut input, corpus);
    }
    input.truncate(64 * 1024);
    input
}

fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = input.len();
    match rng.u8(0..8) {
        0 if len > 0 => {
            let i = rng.usize(..len);
            input[i] ^= 1 << rng.u8(0..8);
        }
        1 => {
            let i = rng.usize(..=len);
            input.insert(i, rng.u8(..));
        }
        2 if len > 0 => {
            let i = rng.usize(..len);
            let n = rng.usize(1..=(len - i).min(16));
            input.drain(i..i + n);
        }
        3 if len > 0 => input.truncate(rng.usize(..len)),
        4 => {
            // Splice: the head of this input, the tail of another.
            let other = &corpus[rng.usize(..corpus.len())];
            let cut = rng.usize(..=len);
            let from = rng.usize(..=other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        _ => replace_value(rng, input),
    }
}

/// Replaces the value after a `:` with an edge value.
fn replace_value(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    let colons: Vec<usize> = input
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b':')
        .map(|(i, _)| i)
        .collect();
    if colons.is_empty() {
        return;
    }
    let start = colons[rng.usize(..colons.len())] + 1;
    let end = input[start..]
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']'))
        .map_or(input.len(), |p| start + p);
    let value = EDGE_VALUES[rng.usize(..EDGE_VALUES.len())].as_bytes();
    input.splice(start..end, value.iter().copied());
}
