/** A token value that must never appear in any response or log line; tests sweep for it. */
export const CANARY_TOKEN = "canary-tok-7d41f0c9e2b84a66";
/** Where the Worker under test thinks BeatPass lives; the fetch mock answers this host. */
export const FAKE_API_BASE = "https://fake-beatpass.test/api/v1";
/** The second canary: the rotation token (BEATPASS_TOKEN_NEXT) in tests that set one. */
export const CANARY_TOKEN_NEXT = "canary-next-3b9e20d15f7c4c18";

/** The operator key the tests' Worker is given (/healthz details). */
export const OPERATOR_KEY = "operator-key-for-tests-5c1d9a7e0b2f4e68";
