/**
 * The codec key of the recorded histories in test/histories. A test fixture, published on purpose:
 * those histories hold test data only, and replaying them must decode them in every CI run.
 * Production keys come from configuration (SENTINEL_CODEC_KEYS), never from code.
 */
export const FIXTURE_CODEC_KEY = 'histories-fixture:dGVzdC1oaXN0b3JpZXMtZml4dHVyZS1rZXktMzJieXQ=';
