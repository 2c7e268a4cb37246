// Echoes what the SDK decoded, for the tests that compare it with Python.
// Names arrive hex-encoded in headers, and everything goes out hex-encoded,
// one line each, so that any byte compares exactly:
//   X-Args: HEXNAME ...     -> "arg HEXNAME COUNT" then "value HEXVALUE" per value
//   X-Files: HEXFIELD ...   -> "file HEXFIELD -" or "file HEXFIELD HEXFILENAME HEXTYPE HEXDATA"
//   X-Cookies: HEXNAME ...  -> "cookie HEXNAME HEXVALUE"
// (an empty value is written as "-").
#include <replug/module.hpp>

#include <string>
#include <string_view>

namespace {

std::string hex(std::string_view bytes) {
    if (bytes.empty()) return "-";
    static const char digits[] = "0123456789abcdef";
    std::string text;
    for (unsigned char c : bytes) {
        text += digits[c >> 4];
        text += digits[c & 15];
    }
    return text;
}

std::string unhex(std::string_view text) {
    std::string bytes;
    auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        bytes += static_cast<char>(value(text[i]) * 16 + value(text[i + 1]));
    return bytes;
}

// Calls EACH with every space-separated hex word of TEXT, decoded ("-" is empty).
template <typename Each>
void for_each_name(std::string_view text, Each each) {
    while (!text.empty()) {
        auto space = text.find(' ');
        auto word = text.substr(0, space);
        if (!word.empty()) each(word == "-" ? std::string() : unhex(word));
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    }
}

}  // namespace

static void serve(replug::request& req, replug::response& res) {
    std::string out;
    for_each_name(req.header("X-Args"), [&](const std::string& name) {
        auto values = req.args(name);
        out += "arg " + hex(name) + " " + std::to_string(values.size()) + "\n";
        for (auto value : values) out += "value " + hex(value) + "\n";
        if (req.has_arg(name) != !values.empty() || req.arg(name) != (values.empty() ? "" : values[0]))
            out += "inconsistent " + hex(name) + "\n";
    });
    for_each_name(req.header("X-Files"), [&](const std::string& field) {
        auto file = req.file(field);
        out += "file " + hex(field);
        if (file)
            out += " " + hex(file.filename()) + " " + hex(file.content_type()) + " " + hex(file.data());
        else
            out += " absent";
        out += "\n";
    });
    for_each_name(req.header("X-Cookies"), [&](const std::string& name) {
        out += "cookie " + hex(name) + " " + hex(req.cookie(name)) + "\n";
    });
    res.header("Content-Type", "text/plain");
    res << out << "end\n";
}

// Throws bad_request itself: answered 400, not counted as a handler error.
static void refuses(replug::request&, replug::response& res) {
    res.header("X-Refuses", "yes");
    throw replug::bad_request("refuses: the thing asked for makes no sense");
}

// Catches the server's bad_request and tries to answer 200 anyway: the
// server answers 400 all the same, and sends none of what it wrote.
static void swallows(replug::request& req, replug::response& res) {
    std::string caught;
    try {
        (void)req.arg("x");
    } catch (const replug::bad_request& error) {
        caught = error.what();
    }
    try {
        (void)req.has_arg("y");  // decoded once: the same refusal again
    } catch (const replug::bad_request& error) {
        if (caught != error.what()) caught += " / then a different reason";
    }
    res.status(200);
    res.header("X-Swallowed", caught);
    res << "swallowed: " << caught << "\n";
}

// Reads the body itself (ABI 1's call), and says how long it was.
static void body_length(replug::request& req, replug::response& res) {
    auto length = req.body().size();  // before anything is written: a body over --max-body throws
    res << "body " << length << "\n";
}

REPLUG_HANDLER(serve)
REPLUG_HANDLER(refuses)
REPLUG_HANDLER(swallows)
REPLUG_HANDLER(body_length)
REPLUG_VERSION("forms-1")
