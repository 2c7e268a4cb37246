// A library that the needs_gone module links against and that the tests
// never install beside it: loading the module must fail with dlopen's reason.
extern "C" __attribute__((visibility("default"))) int replug_test_gone_value() { return 7; }
