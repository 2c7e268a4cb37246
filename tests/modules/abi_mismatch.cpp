// Claims a replug ABI this server does not speak.
extern "C" __attribute__((visibility("default"))) const unsigned replug_abi_version = 999;
static void serve(void*, void*) {}
extern "C" __attribute__((visibility("default"))) void (*const serve_pointer)(void*, void*) = &serve;
