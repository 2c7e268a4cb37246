// A guestbook: the SDK's second table in one module. Route it as a prefix,
//   --route '/guestbook/*=guestbook'
//   --route-setting '/guestbook/*:data_dir=/var/lib/replug/guestbook'
//   --route-setting '/guestbook/*:title=Our guests'        (optional)
// GET /guestbook/ shows the entries and a form; POST /guestbook/ (urlencoded
// or multipart, with an optional image) adds one and answers 303 back to the
// page, so that a reload does not post twice; the name is remembered in a
// cookie; GET /guestbook/image/ID serves an uploaded image.
//
// Entries live in files under data_dir, not in memory: with worker
// processes every worker serves the same book, and a new version of the
// module finds the old entries.
#include <replug/module.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t max_entries_shown = 100;

std::string html(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

// Percent-encodes every byte but [A-Za-z0-9_.-]: for cookie values (which
// may not hold spaces, ';' or non-ASCII) and for one-line fields on disk.
std::string encode(std::string_view text) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
            c == '-') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

std::string decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && value(text[i + 1]) >= 0 && value(text[i + 2]) >= 0) {
            out += static_cast<char>(value(text[i + 1]) * 16 + value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

struct entry {
    std::string name, message, image;  // image: a file name under data_dir, or ""
};

std::vector<entry> read_entries(const std::string& data_dir) {
    std::vector<entry> entries;
    std::ifstream book(data_dir + "/entries");
    std::string line;
    while (std::getline(book, line)) {
        auto tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1);
        if (tab1 == std::string::npos || tab2 == std::string::npos) continue;
        entries.push_back({decode(line.substr(0, tab1)), decode(line.substr(tab1 + 1, tab2 - tab1 - 1)),
                           line.substr(tab2 + 1)});
    }
    return entries;
}

// One line, one write(2) with O_APPEND: lines from several workers never mix.
void append_entry(const std::string& data_dir, const entry& added) {
    std::string line = encode(added.name) + "\t" + encode(added.message) + "\t" + added.image + "\n";
    int fd = ::open((data_dir + "/entries").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("guestbook: cannot open " + data_dir + "/entries");
    bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!written) throw std::runtime_error("guestbook: cannot write " + data_dir + "/entries");
}

std::string_view image_extension(std::string_view content_type) {
    if (content_type == "image/png") return ".png";
    if (content_type == "image/jpeg") return ".jpg";
    if (content_type == "image/gif") return ".gif";
    if (content_type == "image/webp") return ".webp";
    return {};
}

std::string_view image_type(std::string_view file) {
    if (file.ends_with(".png")) return "image/png";
    if (file.ends_with(".jpg")) return "image/jpeg";
    if (file.ends_with(".gif")) return "image/gif";
    if (file.ends_with(".webp")) return "image/webp";
    return {};
}

std::string save_image(const std::string& data_dir, const replug::upload& image) {
    auto extension = image_extension(image.content_type());
    if (extension.empty()) throw replug::bad_request("guestbook: images must be PNG, JPEG, GIF or WebP");
    static std::atomic<unsigned> count{0};
    auto now = std::chrono::system_clock::now().time_since_epoch().count();
    std::string name = std::to_string(now) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++count) +
                       std::string(extension);
    std::ofstream out(data_dir + "/" + name, std::ios::binary);
    out.write(image.data().data(), static_cast<std::streamsize>(image.data().size()));
    if (!out) throw std::runtime_error("guestbook: cannot write image " + name);
    return name;
}

void show_book(replug::request& req, replug::response& res, const std::string& data_dir) {
    std::string title(req.setting("title").empty() ? "Guestbook" : req.setting("title"));
    std::string remembered = decode(req.cookie("guestbook_name"));
    auto entries = read_entries(data_dir);
    res.header("Content-Type", "text/html; charset=utf-8");
    res << "<!doctype html>\n<title>" << html(title) << "</title>\n<h1>" << html(title) << "</h1>\n";
    if (!remembered.empty()) res << "<p>Welcome back, " << html(remembered) << ".</p>\n";
    res << "<form method=post enctype=multipart/form-data>\n"
           "<p><input name=name placeholder=Name value=\"" << html(remembered) << "\">\n"
           "<p><textarea name=message placeholder=Message></textarea>\n"
           "<p><input type=file name=image accept=image/*>\n"
           "<p><button>Sign</button>\n</form>\n<ul>\n";
    std::size_t first = entries.size() > max_entries_shown ? entries.size() - max_entries_shown : 0;
    for (std::size_t i = entries.size(); i-- > first;) {
        const auto& each = entries[i];
        res << "<li><b>" << html(each.name) << "</b>: " << html(each.message);
        if (!each.image.empty()) res << "<br><img src=\"image/" << html(each.image) << "\" alt=\"\">";
        res << "</li>\n";
    }
    res << "</ul>\n";
}

void sign(replug::request& req, replug::response& res, const std::string& data_dir) {
    entry added{std::string(req.arg("name")), std::string(req.arg("message")), {}};
    if (added.name.empty() || added.message.empty()) {
        res.status(422);
        res << "A name and a message, please.\n";
        return;
    }
    if (added.name.size() > 100 || added.message.size() > 2000) {
        res.status(422);
        res << "Shorter, please: 100 bytes of name and 2000 of message at most.\n";
        return;
    }
    if (auto image = req.file("image"); image && !image.data().empty()) added.image = save_image(data_dir, image);
    append_entry(data_dir, added);
    req.log("signed by " + added.name + (added.image.empty() ? "" : " with image " + added.image));

    replug::cookie_options remember;
    remember.max_age = 30 * 24 * 3600;
    remember.path = "/guestbook/";
    remember.http_only = true;
    remember.same_site = "Lax";
    res.cookie("guestbook_name", encode(added.name), remember);
    res.redirect("/guestbook/", 303);  // POST, then GET: a reload does not sign twice
}

void serve_image(replug::request& req, replug::response& res, const std::string& data_dir, std::string_view file) {
    bool plain = !file.empty() && file.find('/') == std::string_view::npos && file.front() != '.';
    std::ifstream in(data_dir + "/" + std::string(file), std::ios::binary);
    if (!plain || image_type(file).empty() || !in) {
        res.status(404);
        res << "No such image.\n";
        return;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    (void)req;
    res.header("Content-Type", image_type(file));
    res.header("Cache-Control", "max-age=86400");
    res.write(bytes);
}

void serve(replug::request& req, replug::response& res) {
    std::string data_dir(req.setting("data_dir"));
    if (data_dir.empty()) {
        req.log(replug::log_level::error, "no data_dir: set --route-setting ROUTE:data_dir=DIR");
        res.status(500);
        res << "The guestbook has no data_dir setting.\n";
        return;
    }
    std::string_view path = req.path();
    auto rest = path.substr(std::min(path.size(), path.find("/guestbook/") == 0 ? sizeof "/guestbook/" - 1 : path.size()));
    if (rest.starts_with("image/")) return serve_image(req, res, data_dir, rest.substr(6));
    if (!rest.empty()) {
        res.status(404);
        res << "Not here: the guestbook is at /guestbook/.\n";
        return;
    }
    if (req.method() == "POST") return sign(req, res, data_dir);
    if (req.method() != "GET" && req.method() != "HEAD") {
        res.status(405);
        res.header("Allow", "GET, HEAD, POST");
        return;
    }
    show_book(req, res, data_dir);
}

}  // namespace

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
