// replug module SDK: the whole surface a module author sees.
//
//   #include <replug/module.hpp>
//
//   static void serve(replug::request& req, replug::response& res) {
//       res.header("Content-Type", "text/plain");
//       res << "Hello from " << req.path();
//   }
//   REPLUG_HANDLER(serve)   // exported under the symbol name "serve"
//   REPLUG_VERSION("1")     // shown by reload and status
//
// Build it as a shared object with the flags from `pkg-config --cflags replug`
// (they include -fno-gnu-unique; without it the server refuses the module,
// because g++'s STB_GNU_UNIQUE symbols make a module impossible to unload and
// let the next version bind to this version's statics). Modules never link
// against the server: they only call through the abstract classes below.
#ifndef REPLUG_MODULE_HPP
#define REPLUG_MODULE_HPP

#include <charconv>
#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <vector>

// Bumped whenever request, response or the module descriptor change layout.
// The server refuses a module built against another ABI version, or with
// another C++ standard library than its own (their std::string_view differ).
#define REPLUG_ABI_VERSION 2u

#if defined(_LIBCPP_VERSION)
#define REPLUG_STANDARD_LIBRARY_ 2u  // libc++
#define REPLUG_STANDARD_LIBRARY_VERSION_ _LIBCPP_VERSION
#elif defined(_GLIBCXX_RELEASE)
#define REPLUG_STANDARD_LIBRARY_ 1u  // libstdc++
#define REPLUG_STANDARD_LIBRARY_VERSION_ _GLIBCXX_RELEASE
#else
#define REPLUG_STANDARD_LIBRARY_ 0u
#define REPLUG_STANDARD_LIBRARY_VERSION_ 0
#endif

namespace replug {

// Throw it (or let the server throw it, from arg(), cookie() or file() on a
// malformed request) to answer 400 with WHAT in the log; nothing else of the
// handler's response is sent.
class bad_request : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A file uploaded in a multipart/form-data body. Everything is empty (and
// the upload false) when the request has no such part.
class upload {
public:
    constexpr upload() noexcept = default;
    constexpr upload(std::string_view filename, std::string_view content_type, std::string_view data) noexcept
        : filename_(filename), content_type_(content_type), data_(data), present_(true) {}

    // As the client named it; never trust it as a path.
    constexpr std::string_view filename() const noexcept { return filename_; }
    constexpr std::string_view content_type() const noexcept { return content_type_; }
    constexpr std::string_view data() const noexcept { return data_; }
    constexpr explicit operator bool() const noexcept { return present_; }

private:
    std::string_view filename_;
    std::string_view content_type_;
    std::string_view data_;
    bool present_ = false;
};

// The levels of req.log, as syslog numbers them.
enum class log_level : int { error = 3, warn = 4, info = 6, debug = 7 };

// The attributes of a Set-Cookie header; empty and negative ones are not sent.
struct cookie_options {
    long long max_age = -1;        // seconds; 0 deletes the cookie
    std::string_view expires;      // an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT"), sent as is
    std::string_view path;
    std::string_view domain;
    bool secure = false;
    bool http_only = false;
    std::string_view same_site;    // "Strict", "Lax" or "None"
};

// One FastCGI request. Valid only during the handler call; the string views
// it returns point into the server's buffers and die with the request.
class request {
public:
    // "GET", "POST", ...
    virtual std::string_view method() const noexcept = 0;
    // The whole request path without the query string, e.g. "/echo/a/b"
    // for a request routed by "/echo/*".
    virtual std::string_view path() const noexcept = 0;
    // The raw query string, without the "?"; empty when there is none.
    virtual std::string_view query() const noexcept = 0;
    // Any FastCGI param (REQUEST_URI, REMOTE_ADDR, ...); empty when absent.
    virtual std::string_view param(std::string_view name) const noexcept = 0;
    // A request header by its HTTP name, case-insensitive ("Content-Type");
    // empty when absent.
    virtual std::string_view header(std::string_view name) const noexcept = 0;
    // The whole request body, read on first call.
    virtual std::string_view body() = 0;

    // ABI 2 (appended: a module built against ABI 1 keeps its slots).

    // The decoded fields named NAME from the query string and then, for an
    // application/x-www-form-urlencoded or multipart/form-data body, the
    // form: how many, and the INDEXth (empty past the end). Decoded once, on
    // the first call. A malformed query or body throws bad_request.
    virtual std::size_t arg_count(std::string_view name) = 0;
    virtual std::string_view arg_at(std::string_view name, std::size_t index) = 0;
    // A request cookie (RFC 6265); empty when absent.
    virtual std::string_view cookie(std::string_view name) = 0;
    // The multipart/form-data upload in field FIELD.
    virtual upload file(std::string_view field) = 0;
    // The route's --route-setting KEY; empty when not set.
    virtual std::string_view setting(std::string_view key) const noexcept = 0;
    // A line in replugd's log, tagged with the route, module and version.
    virtual void write_log(log_level level, std::string_view text) = 0;

    // The first value of NAME (empty when absent), whether there is one, all of them in order.
    std::string_view arg(std::string_view name) { return arg_at(name, 0); }
    bool has_arg(std::string_view name) { return arg_count(name) != 0; }
    std::vector<std::string_view> args(std::string_view name) {
        std::vector<std::string_view> values(arg_count(name));
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = arg_at(name, i);
        return values;
    }
    void log(std::string_view text) { write_log(log_level::info, text); }
    void log(log_level level, std::string_view text) { write_log(level, text); }

protected:
    ~request() = default;
};

// The response being built. The status and headers go out before the first
// body byte; after that, status() and header() have no effect. The body
// streams: large bodies are sent as they are written.
class response {
public:
    virtual void status(int code) noexcept = 0;
    virtual void header(std::string_view name, std::string_view value) = 0;
    virtual void write(std::string_view data) = 0;

    // ABI 2 (appended).

    // Adds a Set-Cookie header. Throws std::invalid_argument, naming the
    // reason, for a name, value or attribute that would break the header.
    virtual void set_cookie(std::string_view name, std::string_view value, const cookie_options& options) = 0;

    void cookie(std::string_view name, std::string_view value) { set_cookie(name, value, cookie_options{}); }
    void cookie(std::string_view name, std::string_view value, const cookie_options& options) {
        set_cookie(name, value, options);
    }
    // The status (302 unless told: 301, 303, 307, 308) and Location in one call.
    void redirect(std::string_view location, int code = 302) {
        if (code < 300 || code > 399) throw std::invalid_argument("redirect: status must be 3xx");
        header("Location", location);
        status(code);
    }

    response& operator<<(std::string_view text) {
        write(text);
        return *this;
    }
    response& operator<<(const char* text) { return *this << std::string_view(text); }
    response& operator<<(char c) { return *this << std::string_view(&c, 1); }

    template <typename Number>
        requires(std::integral<Number> || std::floating_point<Number>)
    response& operator<<(Number value) {
        char digits[64];
        auto [end, error] = std::to_chars(digits, digits + sizeof digits, value);
        if (error == std::errc{})
            write(std::string_view(digits, static_cast<std::size_t>(end - digits)));
        return *this;
    }

protected:
    ~response() = default;
};

using handler_function = void(request&, response&);

// A load hook returns false (or throws) to refuse the new version: the
// route keeps its old version and the reload answer carries the reason.
using load_hook = bool();
using unload_hook = void();

// State handoff (optional), like Erlang's code_change. At every swap the
// outgoing version's export gives a pointer to its state, and the incoming
// version's import receives it before it serves (null on a first load, or
// when the outgoing version exports nothing). Both versions may use the
// object while the old one drains, so make it thread-safe (atomics, a
// mutex), and make it plain data from the global allocator: no virtual
// functions and nothing else whose code lives in a module that will be
// unloaded. An import that throws vetoes the swap.
using state_export = void*();
using state_import = void(void* state);

// The module descriptor, in the spirit of nginx's ngx_module_t: the server
// looks up one symbol, replug_module, and finds everything in it. Its layout
// uses only C types, so the server can read it whatever library the module
// was built with, and tell it when that library is the wrong one.
//
// The macros below each add one entry to the module's "replug_entries"
// linker section, from whichever translation unit they are in; the linker
// gathers them, and the descriptor points at the section's start and end
// (__start_/__stop_ symbols, hidden: only the descriptor refers to them).
enum class entry_kind : unsigned {
    handler = 1,       // name: the route's SYMBOL
    version = 2,       // name: the REPLUG_VERSION text
    on_load = 3,
    on_unload = 4,
    export_state = 5,
    import_state = 6,
};

struct module_entry {
    entry_kind kind;
    const char* name;
    union {
        handler_function* handler;
        load_hook* on_load;
        unload_hook* on_unload;
        state_export* export_state;
        state_import* import_state;
    } function;
};

struct module_descriptor {
    unsigned abi_version;               // REPLUG_ABI_VERSION
    unsigned size;                      // sizeof(module_descriptor) as built: later fields go after these
    unsigned standard_library;          // 1: libstdc++, 2: libc++, 0: unknown
    unsigned standard_library_version;  // _GLIBCXX_RELEASE or _LIBCPP_VERSION
    const module_entry* const* entries_begin;  // the "replug_entries" section
    const module_entry* const* entries_end;
};

}  // namespace replug

#define REPLUG_EXPORT_ extern "C" __attribute__((visibility("default")))

extern "C" {
// Defined by the linker around the section; weak, so that a module with no
// entry at all links (then both are null and the server says what is missing).
extern __attribute__((weak, visibility("hidden"))) const ::replug::module_entry* const __start_replug_entries[];
extern __attribute__((weak, visibility("hidden"))) const ::replug::module_entry* const __stop_replug_entries[];
}

// One per module. Weak, so that a module made of several translation units
// that all include this header links.
REPLUG_EXPORT_ __attribute__((weak)) const ::replug::module_descriptor replug_module = {
    REPLUG_ABI_VERSION,         sizeof(::replug::module_descriptor), REPLUG_STANDARD_LIBRARY_,
    REPLUG_STANDARD_LIBRARY_VERSION_, __start_replug_entries,         __stop_replug_entries};

#define REPLUG_CONCAT2_(a, b) a##b
#define REPLUG_CONCAT_(a, b) REPLUG_CONCAT2_(a, b)
// One entry: KIND, NAME, and the function FN as MEMBER of the union. The
// section holds a pointer to it: pointers are packed without padding, where
// the compiler may align a struct past its size.
#define REPLUG_ENTRY_(kind, name, member, fn) REPLUG_ENTRY_N_(kind, name, member, fn, __COUNTER__)
#define REPLUG_ENTRY_N_(kind, name, member, fn, n)                                                  \
    namespace replug_entries {                                                                      \
    static const ::replug::module_entry REPLUG_CONCAT_(entry_, n) = {::replug::entry_kind::kind, name, \
                                                                     {.member = fn}};               \
    __attribute__((used, section("replug_entries"))) static const ::replug::module_entry*          \
        REPLUG_CONCAT_(pointer_, n) = &REPLUG_CONCAT_(entry_, n);                                   \
    }

// Adds FN (an unqualified function name of type replug::handler_function) to
// the module's handlers under the name FN; routes name it as MODULE[:FN],
// "serve" by default. A module may have several, in any of its files.
#define REPLUG_HANDLER(fn) REPLUG_ENTRY_(handler, #fn, handler, &::fn)

// The module's version string, shown in reload answers and status.
#define REPLUG_VERSION(text) REPLUG_ENTRY_(version, text, handler, nullptr)

// Optional: runs after the new version is loaded and before it is swapped in.
#define REPLUG_ON_LOAD(fn) REPLUG_ENTRY_(on_load, #fn, on_load, &::fn)

// Optional: runs when a retired version is unloaded, after its last request.
#define REPLUG_ON_UNLOAD(fn) REPLUG_ENTRY_(on_unload, #fn, on_unload, &::fn)

// Optional: hands this version's state to the version that replaces it.
#define REPLUG_EXPORT_STATE(fn) REPLUG_ENTRY_(export_state, #fn, export_state, &::fn)

// Optional: receives the state of the version this one replaces.
#define REPLUG_IMPORT_STATE(fn) REPLUG_ENTRY_(import_state, #fn, import_state, &::fn)

#endif  // REPLUG_MODULE_HPP
