// The stand-in that dev mode serves for a route whose source does not
// compile (see dev_error_page.hpp): 500 with the page that replugd wrote to
// $REPLUG_DEV_PAGES/NAME.html, NAME being the route's first path segment.
// Built with the SDK's flags like any module, and built into replugd.
#include <replug/module.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

static void serve(replug::request& req, replug::response& res) {
    res.status(500);
    res.header("Cache-Control", "no-store");
    std::string_view path = req.path();
    path.remove_prefix(1);
    std::string_view name = path.substr(0, path.find('/'));
    const char* pages = std::getenv("REPLUG_DEV_PAGES");
    std::ifstream page(std::string(pages ? pages : ".") + "/" + std::string(name) + ".html", std::ios::binary);
    if (!page) {
        res.header("Content-Type", "text/plain; charset=utf-8");
        res << "This route's source does not compile; replugd's log has the compiler's errors.\n";
        return;
    }
    res.header("Content-Type", "text/html; charset=utf-8");
    res << std::string(std::istreambuf_iterator<char>(page), std::istreambuf_iterator<char>());
}
REPLUG_HANDLER(serve)
REPLUG_VERSION("compile error")
