// What the unit tests share: where the built modules are, a temporary
// directory per test, the two ways a user replaces a module file, a fake
// request/response pair to call a loaded handler with, a look at this
// process's memory map to see which private copies are still mapped, and
// FastCGI records as a front server writes them and as a test reads them.
#ifndef REPLUG_TEST_SUPPORT_HPP
#define REPLUG_TEST_SUPPORT_HPP

#include <boost/test/unit_test.hpp>
#include <fastcgi.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bare_request.hpp"
#include "log.hpp"
#include "outcome.hpp"
#include "replug/module.hpp"
#include "text.hpp"
#include "unique_fd.hpp"
#include "write_all.hpp"

namespace replug {

// So that test failures print the kind.
inline std::ostream& operator<<(std::ostream& out, failure_kind kind) {
    switch (kind) {
        case failure_kind::failed: return out << "failed";
        case failure_kind::bad_input: return out << "bad_input";
        case failure_kind::not_found: return out << "not_found";
        case failure_kind::conflict: return out << "conflict";
    }
    return out << "failure_kind(" << static_cast<int>(kind) << ")";
}

}  // namespace replug

namespace replug::testing {

namespace fs = std::filesystem;

// The reason of a failed outcome, for test messages (which are built even
// when the check passes, so they must not call reason() on a success).
template <typename T>
std::string reason_of(const outcome<T>& result) {
    return result.ok() ? std::string("(no failure)") : result.reason();
}

inline fs::path directory_from_environment(const char* variable) {
    const char* value = std::getenv(variable);
    if (!value || !*value)
        throw std::runtime_error(std::string(variable) + " is not set; run the tests with meson test");
    return value;
}

// A module built by tests/modules/meson.build, e.g. "pluggable_v2".
inline fs::path test_module(const std::string& name) {
    return directory_from_environment("REPLUG_TEST_MODULES") / (name + ".so");
}

// An example module built by modules/meson.build ("hello", "pluggable").
inline fs::path example_module(const std::string& name) {
    return directory_from_environment("REPLUG_EXAMPLE_MODULES") / (name + ".so");
}

// How much of the long loops to run: REPLUG_TEST_SCALE (default 1, or 0.25
// under ThreadSanitizer). Never below one iteration.
inline std::size_t scaled(std::size_t count) {
#if defined(__SANITIZE_THREAD__)
    double scale = 0.25;  // ThreadSanitizer makes every load and call ~10 times slower
#else
    double scale = 1.0;
#endif
    if (const char* value = std::getenv("REPLUG_TEST_SCALE"); value && *value) scale = std::atof(value);
    auto result = static_cast<std::size_t>(static_cast<double>(count) * scale);
    return std::max<std::size_t>(result, 1);
}

// The level of the server's log lines during tests: REPLUG_TEST_LOG_LEVEL
// (error by default, so that expected refusals do not clutter the output).
inline log_level test_log_level() {
    const char* value = std::getenv("REPLUG_TEST_LOG_LEVEL");
    auto level = value ? parse_log_level(value) : std::nullopt;
    return level.value_or(log_level::error);
}

// A fresh directory, removed with everything in it when the test ends.
class temp_dir {
public:
    temp_dir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/replug-unit-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
        fs::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

inline std::string read_file(const fs::path& file) {
    std::ifstream input(file, std::ios::binary);
    if (!input) throw std::runtime_error("cannot read " + file.string());
    return std::string(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
}

// Writes BYTES into FILE through the same inode, truncating it first: what
// `cp new.so live.so` does to a file that already exists.
inline void overwrite_in_place(const fs::path& file, std::string_view bytes) {
    unique_fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
    if (write_all(fd.get(), bytes) != bytes.size()) throw std::runtime_error("cannot write " + file.string());
}

// Writes BYTES to a new file beside FILE and renames it over FILE: what
// `mv new.so live.so` (or an atomic install) does. FILE gets a new inode.
inline void replace_by_rename(const fs::path& file, std::string_view bytes) {
    fs::path fresh = file;
    fresh += ".new";
    overwrite_in_place(fresh, bytes);
    fs::rename(fresh, file);
}

inline ino_t inode_of(const fs::path& file) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) throw std::runtime_error("cannot stat " + file.string());
    return info.st_ino;
}

// The names of the private copies of MODULE ("replug:MODULE:N", the memfd
// names replug::mapped takes) in this process's maps; with CODE_ONLY, only
// those with an executable mapping.
inline std::set<std::string> copies_in_maps(const std::string& module, bool code_only) {
    std::ifstream maps("/proc/self/maps");
    std::string needle = "/memfd:replug:" + module + ":";
    std::set<std::string> names;
    std::string line;
    while (std::getline(maps, line)) {
        auto at = line.find(needle);
        if (at == std::string::npos) continue;
        // "ADDRESS-RANGE PERMS ...": the second field, e.g. "r-xp".
        auto perms = line.find(' ');
        if (code_only && (perms == std::string::npos || line.compare(perms + 1, 3, "r-x") != 0)) continue;
        auto start = at + std::string_view("/memfd:").size();
        auto end = line.find(' ', start);
        names.insert(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    }
    return names;
}

// The copies of MODULE mapped into this process now, in any way.
inline std::set<std::string> mapped_copies(const std::string& module) { return copies_in_maps(module, false); }

// The copies of MODULE whose code is mapped now: the copies the dynamic
// loader has loaded. (ThreadSanitizer's symbolizer maps parts of a module
// file read-only to read its debug information, and keeps them; those are
// not loaded code.)
inline std::set<std::string> loaded_copies(const std::string& module) { return copies_in_maps(module, true); }

// How many file descriptors of this process refer to a private copy of MODULE.
inline std::size_t open_copies(const std::string& module) {
    std::string needle = "/memfd:replug:" + module + ":";
    std::size_t count = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd", error)) {
        std::error_code unreadable;
        auto target = fs::read_symlink(entry.path(), unreadable);
        if (!unreadable && target.string().find(needle) != std::string::npos) ++count;
    }
    return count;
}

// What the sha256sum command prints for FILE: its digest in lowercase hex.
// An implementation independent of the server's, to check it against.
inline std::string sha256sum(const fs::path& file) {
    std::string quoted = "'";
    for (char c : file.string()) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    std::string command = "sha256sum -- " + quoted;
    FILE* output = ::popen(command.c_str(), "r");
    if (!output) throw std::runtime_error("cannot run " + command);
    char digest[65] = {};
    std::size_t got = std::fread(digest, 1, 64, output);
    int status = ::pclose(output);
    if (got != 64 || status != 0) throw std::runtime_error(command + " failed");
    return std::string(digest, 64);
}

// True when a file the process maps has exactly this path (the user's module
// file must never be mapped: overwriting it would change code under a request).
inline bool file_is_mapped(const fs::path& file) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    std::string wanted = " " + file.string();
    while (std::getline(maps, line))
        if (line.ends_with(wanted) || line.ends_with(wanted + " (deleted)")) return true;
    return false;
}

// One request and its response, as a handler sees them.
class fake_request final : public bare_request {
public:
    std::string method_text = "GET";
    std::string path_text = "/";
    std::string query_text;
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<std::pair<std::string, std::string>> headers;  // HTTP names
    std::string body_text;

    std::string_view method() const noexcept override { return method_text; }
    std::string_view path() const noexcept override { return path_text; }
    std::string_view query() const noexcept override { return query_text; }
    std::string_view param(std::string_view name) const noexcept override {
        for (const auto& [key, value] : params)
            if (key == name) return value;
        return {};
    }
    std::string_view header(std::string_view name) const noexcept override {
        for (const auto& [key, value] : headers)
            if (equal_ignoring_case(key, name)) return value;
        return {};
    }
    std::string_view body() override { return body_text; }
};

class fake_response final : public bare_response {
public:
    int code = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    void status(int value) noexcept override { code = value; }
    void header(std::string_view name, std::string_view value) override { headers.emplace_back(name, value); }
    void write(std::string_view data) override { body += data; }

    std::string header_value(std::string_view name) const {
        for (const auto& [key, value] : headers)
            if (key == name) return value;
        return {};
    }
};

// Calls HANDLER with a GET of PATH?QUERY and returns what it answered.
inline fake_response call(handler_function* handler, std::string path = "/", std::string query = "") {
    fake_request req;
    req.path_text = std::move(path);
    req.query_text = std::move(query);
    fake_response res;
    handler(req, res);
    return res;
}

// ---- FastCGI, as nginx sends it and as a test reads the answer ----

// One unpadded record of TYPE for request ID carrying CONTENT.
inline std::string record(unsigned char type, int id, std::string_view content) {
    std::string bytes{static_cast<char>(FCGI_VERSION_1),
                      static_cast<char>(type),
                      static_cast<char>((id >> 8) & 0xff),
                      static_cast<char>(id & 0xff),
                      static_cast<char>((content.size() >> 8) & 0xff),
                      static_cast<char>(content.size() & 0xff),
                      0,
                      0};
    return bytes.append(content);
}

inline std::string name_value(std::string_view name, std::string_view value) {  // both under 128 bytes
    std::string bytes{static_cast<char>(name.size()), static_cast<char>(value.size())};
    return bytes.append(name).append(value);
}

struct fastcgi_record {
    int version = 0;
    int type = 0;
    int id = 0;
    std::string content;
};

// BYTES as FastCGI records; a record cut short fails the test.
inline std::vector<fastcgi_record> records_of(std::string_view bytes) {
    std::vector<fastcgi_record> records;
    while (!bytes.empty()) {
        BOOST_REQUIRE_MESSAGE(bytes.size() >= FCGI_HEADER_LEN, "a FastCGI header cut short");
        auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
        std::size_t length = byte(4) * 256u + byte(5);
        std::size_t padding = byte(6);
        BOOST_REQUIRE_MESSAGE(bytes.size() >= FCGI_HEADER_LEN + length + padding, "a FastCGI record cut short");
        records.push_back(
            {byte(0), byte(1), byte(2) * 256 + byte(3), std::string(bytes.substr(FCGI_HEADER_LEN, length))});
        bytes.remove_prefix(FCGI_HEADER_LEN + length + padding);
    }
    return records;
}

}  // namespace replug::testing

#endif
