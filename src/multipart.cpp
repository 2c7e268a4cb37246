#include "multipart.hpp"

#include <algorithm>
#include <optional>

#include "text.hpp"

namespace replug {

namespace {

failure bad(const std::string& why) { return failure{"multipart body: " + why, failure_kind::bad_input}; }

bool blank(char c) { return c == ' ' || c == '\t'; }


struct parameter {
    std::string name;  // in lower case
    std::string value;
};

// The parameters after a media type or disposition type: TEXT is what
// follows that type, "; name=value; name="quoted \" value"". False when
// it is not that shape.
bool parse_parameters(std::string_view text, std::vector<parameter>& parameters) {
    std::size_t i = 0;
    auto skip_blanks = [&] {
        while (i < text.size() && blank(text[i])) ++i;
    };
    while (true) {
        skip_blanks();
        if (i == text.size()) return true;
        if (text[i] != ';') return false;
        ++i;
        skip_blanks();
        if (i == text.size()) return true;  // a trailing ';'
        std::size_t name_start = i;
        while (i < text.size() && token_char(text[i])) ++i;
        if (i == name_start) return false;
        parameter found{ascii_lower(text.substr(name_start, i - name_start)), {}};
        skip_blanks();
        if (i == text.size() || text[i] != '=') return false;
        ++i;
        skip_blanks();
        if (i < text.size() && text[i] == '"') {
            for (++i;; ++i) {
                if (i == text.size()) return false;  // no closing quote
                if (text[i] == '"') break;
                if (text[i] == '\\' && i + 1 < text.size()) ++i;
                found.value += text[i];
            }
            ++i;
        } else {
            std::size_t value_start = i;
            while (i < text.size() && text[i] != ';' && !blank(text[i])) ++i;
            found.value = text.substr(value_start, i - value_start);
        }
        parameters.push_back(std::move(found));
    }
}

const parameter* find_parameter(const std::vector<parameter>& parameters, std::string_view name) {
    for (const auto& candidate : parameters)
        if (candidate.name == name) return &candidate;
    return nullptr;
}

// RFC 2046 bchars.
bool boundary_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

enum class delimiter_kind { none, part, last, cut };

struct delimiter_end {
    delimiter_kind kind = delimiter_kind::none;
    std::size_t next = 0;  // the first byte after the delimiter's line
};

// What follows "--BOUNDARY" at BODY[AT]: "--" (the final delimiter), blanks
// and CRLF (a part follows), the end of the body (cut short), or anything
// else (not a delimiter: "--BOUNDARYx" is data, as in Python's email).
delimiter_end classify(std::string_view body, std::size_t at, std::string_view dash_boundary) {
    std::size_t i = at + dash_boundary.size();
    if (body.compare(i, 2, "--") == 0) return {delimiter_kind::last, i + 2};
    while (i < body.size() && blank(body[i])) ++i;
    if (i == body.size() || (i + 1 == body.size() && body[i] == '\r')) return {delimiter_kind::cut, body.size()};
    if (body.compare(i, 2, "\r\n") == 0) return {delimiter_kind::part, i + 2};
    return {};
}

struct found_delimiter {
    std::size_t at;  // of its CRLF, which belongs to it and not to the data before
    delimiter_end end;
};

std::optional<found_delimiter> next_delimiter(std::string_view body, std::size_t from, std::string_view dash_boundary) {
    for (std::size_t at = from; (at = body.find("\r\n", at)) != std::string_view::npos; ++at) {
        if (body.compare(at + 2, dash_boundary.size(), dash_boundary) != 0) continue;
        auto end = classify(body, at + 2, dash_boundary);
        if (end.kind != delimiter_kind::none) return found_delimiter{at, end};
    }
    return std::nullopt;
}

// Reads the header lines of part NUMBER (each ending in CRLF) into PART.
std::optional<failure> read_part_headers(std::string_view lines, std::size_t number, multipart_part& part) {
    std::string which = "part " + std::to_string(number) + ": ";
    bool disposition_seen = false;
    while (!lines.empty()) {
        std::size_t end = std::min(lines.find("\r\n"), lines.size());
        std::string_view line = lines.substr(0, end);
        lines.remove_prefix(std::min(end + 2, lines.size()));
        if (line.empty() || blank(line.front())) return bad(which + "folded header line (obsolete line folding is not accepted)");
        std::size_t colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        if (colon == std::string_view::npos || name.empty() ||
            name.find_first_of(" \t") != std::string_view::npos)
            return bad(which + "malformed header line (expected NAME: VALUE)");
        for (char c : name)
            if (!token_char(c)) return bad(which + "malformed header name");
        std::string_view value = trim_blanks(line.substr(colon + 1));
        if (equal_ignoring_case(name, "Content-Type")) {
            if (part.content_type.empty()) part.content_type = value;
        } else if (equal_ignoring_case(name, "Content-Disposition") && !disposition_seen) {
            disposition_seen = true;
            std::size_t semicolon = value.find(';');
            std::vector<parameter> parameters;
            if (!equal_ignoring_case(trim_blanks(value.substr(0, semicolon)), "form-data"))
                return bad(which + "Content-Disposition is not form-data");
            if (semicolon != std::string_view::npos && !parse_parameters(value.substr(semicolon), parameters))
                return bad(which + "malformed Content-Disposition parameters");
            const parameter* field = find_parameter(parameters, "name");
            if (!field) return bad(which + "Content-Disposition has no name");
            part.name = field->value;
            if (const parameter* file = find_parameter(parameters, "filename")) {
                part.filename = file->value;
                part.has_filename = true;
            }
        }
    }
    if (!disposition_seen) return bad(which + "no Content-Disposition header");
    return std::nullopt;
}

}  // namespace

bool is_multipart_form_data(std::string_view content_type) {
    return equal_ignoring_case(trim_blanks(content_type.substr(0, content_type.find(';'))), "multipart/form-data");
}

outcome<std::string> multipart_boundary(std::string_view content_type) {
    if (!is_multipart_form_data(content_type)) return bad("Content-Type is not multipart/form-data");
    std::size_t semicolon = content_type.find(';');
    std::vector<parameter> parameters;
    if (semicolon == std::string_view::npos) return bad("Content-Type has no boundary");
    if (!parse_parameters(content_type.substr(semicolon), parameters))
        return bad("malformed Content-Type parameters");
    const parameter* boundary = find_parameter(parameters, "boundary");
    if (!boundary) return bad("Content-Type has no boundary");
    const std::string& text = boundary->value;
    if (text.empty() || text.size() > 70) return bad("the boundary must have 1 to 70 characters");
    for (char c : text)
        if (!boundary_char(c)) return bad("the boundary has a character RFC 2046 does not allow");
    if (text.back() == ' ') return bad("the boundary ends in a space");
    return text;
}

outcome<std::vector<multipart_part>> parse_multipart(std::string_view body, std::string_view boundary,
                                                     const multipart_limits& limits) {
    const std::string dash_boundary = "--" + std::string(boundary);
    delimiter_end current;
    if (body.starts_with(dash_boundary)) current = classify(body, 0, dash_boundary);
    if (current.kind == delimiter_kind::none) {
        auto first = next_delimiter(body, 0, dash_boundary);
        if (!first)
            return bad(body.find(dash_boundary + "\n") != std::string_view::npos
                           ? "its lines end in LF alone (RFC 2046 requires CRLF)"
                           : "the boundary does not appear in the body (a wrong boundary?)");
        current = first->end;
    }
    std::vector<multipart_part> parts;
    while (current.kind != delimiter_kind::last) {
        std::size_t number = parts.size() + 1;
        if (current.kind == delimiter_kind::cut)
            return bad("truncated: no final delimiter after part " + std::to_string(number - 1));
        if (parts.size() == limits.max_parts)
            return bad("more than " + std::to_string(limits.max_parts) + " parts");
        std::string which = "part " + std::to_string(number) + ": ";
        multipart_part part;
        std::size_t start = current.next;
        std::size_t data_start;
        if (body.compare(start, 2, "\r\n") == 0) {
            data_start = start + 2;  // no headers: refused below, for want of a Content-Disposition
        } else {
            std::string_view window = body.substr(start, limits.max_header_block + 2);
            std::size_t blank_line = window.find("\r\n\r\n");
            if (blank_line == std::string_view::npos)
                return bad(which + (start + window.size() == body.size()
                                        ? "truncated in its headers"
                                        : "header block larger than " + std::to_string(limits.max_header_block) +
                                              " bytes"));
            data_start = start + blank_line + 4;
        }
        if (auto refused = read_part_headers(body.substr(start, data_start - 2 - start), number, part))
            return *refused;
        auto next = next_delimiter(body, data_start, dash_boundary);
        if (!next) return bad(which + "truncated (its data is not followed by a delimiter)");
        part.data = body.substr(data_start, next->at - data_start);
        parts.push_back(std::move(part));
        current = next->end;
    }
    return parts;
}

}  // namespace replug
