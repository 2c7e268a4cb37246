// Appends its version to the file named by REPLUG_TEST_UNLOAD_MARKER when
// it is unloaded, so that a test can see when a retired version is gone.
#include <replug/module.hpp>

#include <cstdio>
#include <cstdlib>

static void on_unload() {
    if (const char* path = std::getenv("REPLUG_TEST_UNLOAD_MARKER")) {
        if (std::FILE* file = std::fopen(path, "a")) {
            std::fputs("unloaded " MARKER_VERSION "\n", file);
            std::fclose(file);
        }
    }
}

static void serve(replug::request&, replug::response& res) { res << "marker " MARKER_VERSION; }

REPLUG_HANDLER(serve)
REPLUG_VERSION(MARKER_VERSION)
REPLUG_ON_UNLOAD(on_unload)
