#include "dev_error_page.hpp"

namespace replug {

std::string html_escape(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size() + text.size() / 8);
    for (char c : text) {
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            case '\'': escaped += "&#39;"; break;
            case '\n':
            case '\t': escaped += c; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                    escaped += "\xEF\xBF\xBD";
                else
                    escaped += c;
        }
    }
    return escaped;
}

std::string compile_error_page(std::string_view name, std::string_view command, std::string_view output,
                               std::size_t limit, std::string_view problem) {
    bool cut = output.size() > limit;
    if (cut) output = output.substr(0, limit);
    std::string page =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(name) + " " +
        html_escape(problem) + "</title></head>\n<body>\n<h1>" + html_escape(name) + " " + html_escape(problem) +
        "</h1>\n<p>replugd --dev serves this page until a save compiles and loads.</p>\n"
        "<pre>$ " + html_escape(command) + "\n\n" + html_escape(output);
    if (cut) page += "\n[... cut at " + std::to_string(limit) + " bytes]";
    page += "</pre>\n</body></html>\n";
    return page;
}

}  // namespace replug
