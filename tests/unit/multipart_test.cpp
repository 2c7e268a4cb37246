// multipart/form-data: the boundary from the Content-Type, the parts, and
// every way a body is refused (with the reason).
#define BOOST_TEST_MODULE multipart
#include <boost/test/unit_test.hpp>

#include <string>

#include "multipart.hpp"

using replug::multipart_boundary;
using replug::multipart_limits;
using replug::parse_multipart;

namespace {

const std::string crlf = "\r\n";

std::string part(std::string_view headers, std::string_view data, std::string_view boundary = "XyZ") {
    return "--" + std::string(boundary) + crlf + std::string(headers) + crlf + std::string(data) + crlf;
}

std::string field(std::string_view name, std::string_view value) {
    return part("Content-Disposition: form-data; name=\"" + std::string(name) + "\"" + crlf, value);
}

const std::string end = "--XyZ--\r\n";

std::vector<replug::multipart_part> parts_of(std::string_view body, const multipart_limits& limits = {}) {
    auto parts = parse_multipart(body, "XyZ", limits);
    BOOST_TEST_REQUIRE(parts.ok(), (parts.ok() ? "" : parts.reason()));
    return std::move(*parts);
}

std::string reason_of(std::string_view body, const multipart_limits& limits = {}) {
    auto parts = parse_multipart(body, "XyZ", limits);
    BOOST_TEST_REQUIRE(!parts.ok());
    BOOST_TEST((parts.kind() == replug::failure_kind::bad_input));
    return parts.reason();
}

bool contains(const std::string& text, std::string_view piece) {
    if (text.find(piece) != std::string::npos) return true;
    BOOST_TEST_MESSAGE("'" << text << "' lacks '" << piece << "'");
    return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(boundary_from_the_content_type) {
    BOOST_TEST(*multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk") ==
               "----WebKitFormBoundary7MA4YWxk");
    BOOST_TEST(*multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"; charset=utf-8") == "a b:c");
    BOOST_TEST(*multipart_boundary("multipart/form-data; charset=utf-8; BOUNDARY=x") == "x");
}

BOOST_AUTO_TEST_CASE(unusable_boundaries_are_refused) {
    BOOST_TEST(contains(multipart_boundary("multipart/form-data").reason(), "no boundary"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; charset=x").reason(), "no boundary"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; boundary=").reason(), "1 to 70"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')).reason(), "1 to 70"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; boundary=\"a\\\"b\"").reason(), "does not allow"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; boundary=\"ab \"").reason(), "ends in a space"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; boundary=\"open").reason(), "malformed"));
    BOOST_TEST(contains(multipart_boundary("multipart/form-data; boundary").reason(), "malformed"));
    BOOST_TEST(contains(multipart_boundary("multipart/mixed; boundary=x").reason(), "not multipart/form-data"));
    BOOST_TEST(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')).ok());
}

BOOST_AUTO_TEST_CASE(fields_and_a_file_in_order) {
    std::string body = field("title", "Hello") +
                       part("Content-Disposition: form-data; name=\"photo\"; filename=\"cat.png\"\r\n"
                            "Content-Type: image/png\r\n",
                            std::string("\x89PNG\r\n\x1a\n\0\r\n--XyZx", 17)) +
                       field("title", "") + end;
    auto parts = parts_of(body);
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    BOOST_TEST(parts[0].name == "title");
    BOOST_TEST(parts[0].data == "Hello");
    BOOST_TEST(!parts[0].has_filename);
    BOOST_TEST(parts[0].content_type.empty());
    BOOST_TEST(parts[1].name == "photo");
    BOOST_TEST(parts[1].has_filename);
    BOOST_TEST(parts[1].filename == "cat.png");
    BOOST_TEST(parts[1].content_type == "image/png");
    // Binary data, CRLFs and a line that only starts like the delimiter stay in the data.
    BOOST_TEST((parts[1].data == std::string_view("\x89PNG\r\n\x1a\n\0\r\n--XyZx", 17)));
    BOOST_TEST(parts[2].data == "");
}

BOOST_AUTO_TEST_CASE(preamble_epilogue_padding_and_header_case) {
    std::string body = "This is the preamble.\r\n--XyZ \t\r\n"
                       "content-disposition: FORM-DATA ; Name=a ; FILENAME=\"q\\\"uote\\\\d.txt\"\r\n"
                       "X-Other: ignored\r\n\r\n"
                       "data\r\n--XyZ--trailing epilogue\r\n--XyZ\r\nnot parsed";
    auto parts = parts_of(body);
    BOOST_TEST_REQUIRE(parts.size() == 1u);
    BOOST_TEST(parts[0].name == "a");
    BOOST_TEST(parts[0].filename == "q\"uote\\d.txt");
    BOOST_TEST(parts[0].data == "data");
}

BOOST_AUTO_TEST_CASE(an_empty_filename_is_still_an_upload_and_filename_star_is_ignored) {
    std::string body = part("Content-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
                            "Content-Type: application/octet-stream\r\n", "") +
                       part("Content-Disposition: form-data; name=\"g\"; filename*=UTF-8''a%20b\r\n", "x") + end;
    auto parts = parts_of(body);
    BOOST_TEST_REQUIRE(parts.size() == 2u);
    BOOST_TEST(parts[0].has_filename);
    BOOST_TEST(parts[0].filename == "");
    BOOST_TEST(!parts[1].has_filename);
}

BOOST_AUTO_TEST_CASE(no_parts_at_all) {
    BOOST_TEST(parts_of("--XyZ--").empty());
    BOOST_TEST(parts_of("--XyZ--\r\n").empty());
}

BOOST_AUTO_TEST_CASE(a_wrong_boundary_is_refused) {
    std::string body = field("a", "1") + end;
    auto parts = parse_multipart(body, "Other");
    BOOST_TEST_REQUIRE(!parts.ok());
    BOOST_TEST(contains(parts.reason(), "does not appear"));
    BOOST_TEST(contains(reason_of(""), "does not appear"));
    BOOST_TEST(contains(reason_of("--XyZx\r\n"), "does not appear"));
    BOOST_TEST(contains(reason_of("--XyZ\nContent-Disposition: form-data; name=a\n\n1\n--XyZ--\n"), "LF alone"));
}

BOOST_AUTO_TEST_CASE(truncated_bodies_are_refused_wherever_they_stop) {
    std::string body = field("a", "1") + field("b", "2") + end;
    // Every prefix shorter than the final delimiter is refused; none crashes.
    std::size_t complete = body.size() - 2;  // "--XyZ--" without the CRLF is complete
    for (std::size_t length = 0; length < complete; ++length) {
        auto parts = parse_multipart(std::string_view(body).substr(0, length), "XyZ");
        BOOST_TEST(!parts.ok(), "prefix of " << length << " bytes accepted");
    }
    BOOST_TEST(contains(reason_of(field("a", "1") + "--XyZ"), "truncated: no final delimiter after part 1"));
    BOOST_TEST(contains(reason_of(field("a", "1")), "part 1: truncated (its data is not followed by a delimiter)"));
    BOOST_TEST(contains(reason_of(field("a", "1") + "--XyZ\r\nContent-Disp"), "part 2: truncated in its headers"));
    BOOST_TEST(contains(reason_of(field("a", "1") + field("b", "2").substr(0, 50)), "part 2: truncated"));
    BOOST_TEST(contains(reason_of("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nno end"),
                        "part 1: truncated (its data is not followed by a delimiter)"));
}

BOOST_AUTO_TEST_CASE(malformed_parts_are_refused) {
    BOOST_TEST(contains(reason_of(part("", "x") + end), "part 1: no Content-Disposition"));
    BOOST_TEST(contains(reason_of(part("Content-Type: text/plain\r\n", "x") + end), "no Content-Disposition"));
    BOOST_TEST(contains(reason_of(part("Content-Disposition: attachment; name=a\r\n", "x") + end), "not form-data"));
    BOOST_TEST(contains(reason_of(part("Content-Disposition: form-data; filename=a\r\n", "x") + end), "no name"));
    BOOST_TEST(contains(reason_of(part("Content-Disposition: form-data; name=\"a\r\n", "x") + end), "malformed Content-Disposition"));
    BOOST_TEST(contains(reason_of(part("Content-Disposition: form-data; name\r\n", "x") + end), "malformed Content-Disposition"));
    BOOST_TEST(contains(reason_of(part("no colon here\r\n", "x") + end), "malformed header line"));
    BOOST_TEST(contains(reason_of(part("Bad Name: x\r\n", "x") + end), "malformed header line"));
    BOOST_TEST(contains(reason_of(part("Content-Disposition: form-data; name=a\r\nX-Long: a\r\n b\r\n", "x") + end), "folded"));
    BOOST_TEST(contains(reason_of(field("a", "1") + field("b", "2").substr(0, 30) + "\r\n\r\n" + end), "part 2"));
}

BOOST_AUTO_TEST_CASE(limits_on_parts_and_header_blocks) {
    std::string three = field("a", "1") + field("b", "2") + field("c", "3") + end;
    BOOST_TEST(parts_of(three, {3, 8192}).size() == 3u);
    BOOST_TEST(contains(reason_of(three, {2, 8192}), "more than 2 parts"));

    std::string headers = "Content-Disposition: form-data; name=a\r\nX-Pad: " + std::string(100, 'p') + "\r\n";
    std::string body = part(headers, "x") + end;
    BOOST_TEST(parts_of(body, {10, headers.size()}).size() == 1u);
    BOOST_TEST(contains(reason_of(body, {10, headers.size() - 1}), "header block larger than"));
    // A huge header block with no end in sight is refused after the limit, not searched to the end.
    std::string endless = "--XyZ\r\nX-Pad: " + std::string(1 << 20, 'p');
    BOOST_TEST(contains(reason_of(endless), "header block larger than 8192 bytes"));
}

BOOST_AUTO_TEST_CASE(many_near_delimiters_in_data_stay_linear) {
    std::string data;
    for (int i = 0; i < 20000; ++i) data += "\r\n--XyZz";
    std::string body = part("Content-Disposition: form-data; name=a\r\n", data) + end;  // the parts point into it
    auto parts = parts_of(body);
    BOOST_TEST_REQUIRE(parts.size() == 1u);
    BOOST_TEST(parts[0].data == data);
}

BOOST_AUTO_TEST_CASE(media_type) {
    BOOST_TEST(replug::is_multipart_form_data("multipart/form-data; boundary=x"));
    BOOST_TEST(replug::is_multipart_form_data("MULTIPART/FORM-DATA"));
    BOOST_TEST(!replug::is_multipart_form_data("multipart/form-datax"));
    BOOST_TEST(!replug::is_multipart_form_data("text/plain"));
}
