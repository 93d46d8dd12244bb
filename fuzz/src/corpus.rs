//! Seed inputs: the vendor's example bodies (the model's golden files, compiled in) and a few
//! of our own.

/// The golden bodies of the model's tests: requests, responses and notifications.
pub(crate) const GOLDEN: &[&str] = &[
    include_str!("../../crates/model/tests/golden/ct_acquire_response.json"),
    include_str!("../../crates/model/tests/golden/ct_code65.json"),
    include_str!("../../crates/model/tests/golden/ct_error.json"),
    include_str!("../../crates/model/tests/golden/ct_task_create.json"),
    include_str!("../../crates/model/tests/golden/derived_ct_create_audio.json"),
    include_str!("../../crates/model/tests/golden/derived_ct_create_video.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_create_raw.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_create_sei_only.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_create_transcoded.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_create_vertical.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_get_top_level.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_get_wrapped.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_update.json"),
    include_str!("../../crates/model/tests/golden/derived_mp_update_fields_inside.json"),
    include_str!("../../crates/model/tests/golden/derived_ncs_ct_started.json"),
    include_str!("../../crates/model/tests/golden/derived_ncs_mp_created.json"),
    include_str!("../../crates/model/tests/golden/derived_ncs_mp_destroyed.json"),
    include_str!("../../crates/model/tests/golden/gateway_no_route.json"),
    include_str!("../../crates/model/tests/golden/gateway_unauthorized.json"),
    include_str!("../../crates/model/tests/golden/mp_create_response.json"),
    include_str!("../../crates/model/tests/golden/mp_error_reason.json"),
    include_str!("../../crates/model/tests/golden/mp_list_response.json"),
];

/// Every golden body as bytes.
pub(crate) fn golden() -> Vec<Vec<u8>> {
    GOLDEN.iter().map(|s| s.as_bytes().to_vec()).collect()
}
