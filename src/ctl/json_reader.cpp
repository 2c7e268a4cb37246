#include "ctl/json_reader.hpp"

#include <charconv>
#include <system_error>

namespace replug {

namespace {

// Deeper nesting than any admin answer has; the limit keeps hostile input
// from exhausting the stack.
constexpr int max_depth = 256;

class parser {
public:
    explicit parser(std::string_view text) : text_(text) {}

    outcome<json_value> document() {
        skip_space();
        json_value result = value(0);
        if (error_.empty()) {
            skip_space();
            if (at_ < text_.size()) fail("expected the end of the text after the value");
        }
        if (!error_.empty()) return failure{error_, failure_kind::bad_input};
        return result;
    }

private:
    json_value value(int depth) {
        if (depth > max_depth) return fail("nested deeper than " + std::to_string(max_depth) + " levels");
        if (at_ >= text_.size()) return fail("unexpected end of the text, expected a value");
        char c = text_[at_];
        if (c == '{') return members(depth);
        if (c == '[') return items(depth);
        if (c == '"') return string();
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        if (literal("true")) return json_value(true);
        if (literal("false")) return json_value(false);
        if (literal("null")) return json_value();
        return fail(std::string("unexpected ") + describe(c) + ", expected a value");
    }

    json_value members(int depth) {
        ++at_;  // '{'
        json_value::object result;
        skip_space();
        if (consume('}')) return result;
        while (error_.empty()) {
            skip_space();
            if (at_ >= text_.size() || text_[at_] != '"') return fail("expected a string key in an object");
            json_value name = string();
            if (!error_.empty()) break;
            skip_space();
            if (!consume(':')) return fail("expected ':' after an object key");
            skip_space();
            json_value member = value(depth + 1);
            if (!error_.empty()) break;
            result.emplace_back(name.as_string(), std::move(member));
            skip_space();
            if (consume('}')) return result;
            if (!consume(',')) return fail("expected ',' or '}' in an object");
        }
        return {};
    }

    json_value items(int depth) {
        ++at_;  // '['
        json_value::array result;
        skip_space();
        if (consume(']')) return result;
        while (error_.empty()) {
            skip_space();
            json_value item = value(depth + 1);
            if (!error_.empty()) break;
            result.push_back(std::move(item));
            skip_space();
            if (consume(']')) return result;
            if (!consume(',')) return fail("expected ',' or ']' in an array");
        }
        return {};
    }

    json_value string() {
        ++at_;  // '"'
        std::string result;
        while (at_ < text_.size()) {
            char c = text_[at_];
            if (c == '"') {
                ++at_;
                return result;
            }
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string (escape it)");
            if (c != '\\') {
                result += c;
                ++at_;
                continue;
            }
            if (++at_ >= text_.size()) break;
            char escape = text_[at_++];
            switch (escape) {
                case '"': result += '"'; break;
                case '\\': result += '\\'; break;
                case '/': result += '/'; break;
                case 'b': result += '\b'; break;
                case 'f': result += '\f'; break;
                case 'n': result += '\n'; break;
                case 'r': result += '\r'; break;
                case 't': result += '\t'; break;
                case 'u':
                    if (!unicode_escape(result)) return {};
                    break;
                default: --at_; return fail(std::string("unknown escape \\") + describe(escape));
            }
        }
        return fail("unterminated string");
    }

    // After "\u": four hex digits, and a second \uXXXX for a surrogate pair;
    // appends the code point as UTF-8.
    bool unicode_escape(std::string& out) {
        long code = hex4();
        if (code < 0) return false;
        if (code >= 0xDC00 && code <= 0xDFFF) {
            fail("lone low surrogate in a \\u escape");
            return false;
        }
        if (code >= 0xD800 && code <= 0xDBFF) {
            if (text_.substr(at_, 2) != "\\u") {
                fail("high surrogate not followed by a \\u escape");
                return false;
            }
            at_ += 2;
            long low = hex4();
            if (low < 0) return false;
            if (low < 0xDC00 || low > 0xDFFF) {
                fail("high surrogate not followed by a low surrogate");
                return false;
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        auto byte = [&out](long b) { out += static_cast<char>(b); };
        if (code < 0x80) {
            byte(code);
        } else if (code < 0x800) {
            byte(0xC0 | (code >> 6));
            byte(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            byte(0xE0 | (code >> 12));
            byte(0x80 | ((code >> 6) & 0x3F));
            byte(0x80 | (code & 0x3F));
        } else {
            byte(0xF0 | (code >> 18));
            byte(0x80 | ((code >> 12) & 0x3F));
            byte(0x80 | ((code >> 6) & 0x3F));
            byte(0x80 | (code & 0x3F));
        }
        return true;
    }

    long hex4() {
        long code = 0;
        for (int i = 0; i < 4; ++i, ++at_) {
            char c = at_ < text_.size() ? text_[at_] : '\0';
            int digit = c >= '0' && c <= '9' ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
            if (digit < 0) {
                fail("expected four hex digits after \\u");
                return -1;
            }
            code = code * 16 + digit;
        }
        return code;
    }

    json_value number() {
        std::size_t start = at_;
        consume('-');
        if (consume('0')) {
            if (digit()) return fail("leading zero in a number");
        } else if (!digits()) {
            return fail("expected a digit in a number");
        }
        if (consume('.') && !digits()) return fail("expected a digit after the decimal point");
        if (consume('e') || consume('E')) {
            if (!consume('+')) consume('-');
            if (!digits()) return fail("expected a digit in the exponent");
        }
        double result = 0;
        auto [end, error] = std::from_chars(text_.data() + start, text_.data() + at_, result);
        if (error != std::errc{} || end != text_.data() + at_) {
            at_ = start;
            return fail("number out of range");
        }
        return result;
    }

    bool digit() const { return at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9'; }

    bool digits() {
        std::size_t start = at_;
        while (digit()) ++at_;
        return at_ > start;
    }

    bool literal(std::string_view word) {
        if (text_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }

    bool consume(char c) {
        if (at_ >= text_.size() || text_[at_] != c) return false;
        ++at_;
        return true;
    }

    void skip_space() {
        while (at_ < text_.size() && std::string_view(" \t\n\r").find(text_[at_]) != std::string_view::npos) ++at_;
    }

    static std::string describe(char c) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
            static constexpr char hex[] = "0123456789abcdef";
            auto byte = static_cast<unsigned char>(c);
            return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 0xF];
        }
        return std::string("'") + c + "'";
    }

    // Records the first error; returns a null value so callers can return it.
    json_value fail(const std::string& what) {
        if (error_.empty()) error_ = "malformed JSON at offset " + std::to_string(at_) + ": " + what;
        at_ = text_.size();
        return {};
    }

    std::string_view text_;
    std::size_t at_ = 0;
    std::string error_;
};

}  // namespace

const json_value& json_value::operator[](std::string_view name) const {
    static const json_value null_value;
    if (!is_object()) return null_value;
    for (const auto& [key, member] : as_object())
        if (key == name) return member;
    return null_value;
}

std::string json_value::string_or(std::string_view fallback) const {
    return is_string() ? as_string() : std::string(fallback);
}

double json_value::number_or(double fallback) const { return is_number() ? as_number() : fallback; }

outcome<json_value> parse_json(std::string_view text) { return parser(text).document(); }

}  // namespace replug
