#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented items
#![allow(clippy::unwrap_used)] // a bench panics loudly on a broken setup, which is what we want
//! Cost of the per-request policies in `agora-rest-core`.
//!
//! Every call through the clients runs a classifier, a quota check and (for webhooks) a
//! signature check, so these must stay far below a network round trip. Each group measures a
//! baseline next to the policy in the same run, so the ratio is what to read:
//! - `classify`: the status classifier vs a bare `match` on the status class;
//! - `quota`: an admit + release on a busy ledger vs two array increments;
//! - `ncs_verify`: HMAC-SHA256 verification of a 1 KiB notice vs hex-encoding the same bytes.
//!
//! Run: `cargo bench -p agora-rest-benches --bench core_policies`.

use std::hint::black_box;
use std::time::Duration;

use agora_rest_core::classify::classify;
use agora_rest_core::ncs::{self, Deduplicator, SignatureKind};
use agora_rest_core::operation::Operation;
use agora_rest_core::quota::{QuotaLedger, QuotaTable, Tier};
use agora_rest_core::region::Area;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench_classify(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    let statuses: Vec<u16> = (100..600).collect();
    g.bench_function("baseline_match_class", |b| {
        b.iter(|| {
            statuses
                .iter()
                .map(|s| match black_box(*s) / 100 {
                    2 => 0u32,
                    4 => 1,
                    5 => 2,
                    _ => 3,
                })
                .sum::<u32>()
        });
    });
    g.bench_function("classify_500_statuses", |b| {
        b.iter(|| {
            statuses
                .iter()
                .filter(|s| {
                    classify(black_box(Operation::TranscodeCreate), **s, None)
                        != agora_rest_core::classify::Action::Success
                })
                .count()
        });
    });
    g.finish();
}

fn bench_quota(c: &mut Criterion) {
    let mut g = c.benchmark_group("quota");
    let mut counts = [[0u32; 3]; 4];
    g.bench_function("baseline_array_inc_dec", |b| {
        b.iter(|| {
            counts[black_box(3)][black_box(0)] += 1;
            counts[black_box(3)][black_box(0)] -= 1;
        });
    });
    let mut ledger = QuotaLedger::new(QuotaTable::media_push());
    for _ in 0..150 {
        ledger.admit(Area::Cn, Tier::Sd).unwrap();
    }
    g.bench_function("admit_release", |b| {
        b.iter(|| {
            ledger
                .admit(black_box(Area::Cn), black_box(Tier::Sd))
                .unwrap();
            ledger.release(Area::Cn, Tier::Sd);
        });
    });
    g.finish();
}

fn bench_ncs(c: &mut Criterion) {
    let mut g = c.benchmark_group("ncs_verify");
    let body = vec![b'x'; 1024];
    let sig = ncs::sign(SignatureKind::V2Sha256, b"secret", &body);
    g.bench_function("baseline_hex_encode_1k", |b| {
        b.iter(|| hex_len(black_box(&body)));
    });
    g.bench_function("hmac_sha256_verify_1k", |b| {
        b.iter(|| ncs::verify(b"secret", black_box(&body), Some(&sig), None).unwrap());
    });
    let mut dedupe = Deduplicator::default();
    let mut n = 0u64;
    g.bench_function("dedupe_check", |b| {
        b.iter(|| {
            n += 1;
            dedupe.check(&n.to_string(), n, Duration::from_millis(n))
        });
    });
    g.finish();
}

fn hex_len(bytes: &[u8]) -> usize {
    bytes.iter().map(|b| format!("{b:02x}").len()).sum()
}

criterion_group!(benches, bench_classify, bench_quota, bench_ncs);
criterion_main!(benches);
