// A copy of <replug/module.hpp> as ABI 1 shipped it (commit be93b45): the
// tests build an old-style module with it, to see the server refuse it with
// a reason that says how to rebuild.
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
#include <string_view>
#include <system_error>

// Bumped whenever request, response or the exported symbols change layout.
// The server refuses a module built against another ABI version.
#define REPLUG_ABI_VERSION 1u

namespace replug {

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

}  // namespace replug

#define REPLUG_EXPORT_ extern "C" __attribute__((visibility("default")))

// Every module carries the ABI it was built against. Weak, so that a module
// made of several translation units that all include this header links.
REPLUG_EXPORT_ __attribute__((weak)) const unsigned replug_abi_version = REPLUG_ABI_VERSION;

// Exports a pointer to the global function FN, of type TYPE, under the
// symbol NAME. The pointer lives in a namespace so that NAME may equal FN.
#define REPLUG_EXPORT_POINTER_(type, name, fn)                                 \
    namespace replug_exports {                                                 \
    REPLUG_EXPORT_ type* const name;                                           \
    type* const name = &::fn;                                                  \
    }

// Exports FN (an unqualified function name of type replug::handler_function)
// under the symbol name FN; routes name it as MODULE[:FN], "serve" by default.
#define REPLUG_HANDLER(fn) REPLUG_EXPORT_POINTER_(::replug::handler_function, fn, fn)

// The module's version string, shown in reload answers and status.
#define REPLUG_VERSION(text) REPLUG_EXPORT_ const char replug_module_version[] = text;

// Optional: runs after the new version is loaded and before it is swapped in.
#define REPLUG_ON_LOAD(fn) REPLUG_EXPORT_POINTER_(::replug::load_hook, replug_on_load, fn)

// Optional: runs when a retired version is unloaded, after its last request.
#define REPLUG_ON_UNLOAD(fn) REPLUG_EXPORT_POINTER_(::replug::unload_hook, replug_on_unload, fn)

// Optional: hands this version's state to the version that replaces it.
#define REPLUG_EXPORT_STATE(fn) REPLUG_EXPORT_POINTER_(::replug::state_export, replug_export_state, fn)

// Optional: receives the state of the version this one replaces.
#define REPLUG_IMPORT_STATE(fn) REPLUG_EXPORT_POINTER_(::replug::state_import, replug_import_state, fn)

#endif  // REPLUG_MODULE_HPP
