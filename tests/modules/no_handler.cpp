// A replug module that forgot REPLUG_HANDLER.
#include <replug/module.hpp>

REPLUG_VERSION("no-handler")
