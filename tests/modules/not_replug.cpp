// A shared object that is not a replug module at all.
extern "C" __attribute__((visibility("default"))) int some_function() { return 1; }
