// multipart/form-data request bodies (RFC 7578 over RFC 2046's multipart
// syntax): the boundary from the Content-Type, then each part's
// Content-Disposition (form-data; name=...; filename=...), Content-Type and
// bytes. Pure functions over the body: the parts point into it.
//
// What is refused (every reason names the part, counting from 1): a
// Content-Type without a usable boundary; a body in which the boundary
// never appears (a wrong boundary); a part whose header block does not end
// (a truncated body) or is larger than the limit; a malformed header line;
// a part without Content-Disposition: form-data and a name; a part whose
// data is not followed by a delimiter (truncated); no final delimiter
// "--BOUNDARY--"; more parts than the limit. Lines end in CRLF, as
// RFC 2046 requires and browsers and curl send, and part headers are not
// folded (Python's email package takes LF alone and folding: both are
// refused here). The preamble before the first delimiter and the epilogue
// after the last are ignored.
//
// Parameter values may be tokens or quoted strings with backslash escapes
// (as Python's email package reads them). filename* (RFC 2231 encoding) is
// ignored: RFC 7578 §4.2 forbids senders to use it, and browsers send the
// UTF-8 bytes of the name in filename="..." instead. Content-Transfer-Encoding
// is ignored too (RFC 7578 §4.7 deprecates it; no browser sends it).
#ifndef REPLUG_MULTIPART_HPP
#define REPLUG_MULTIPART_HPP

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "outcome.hpp"

namespace replug {

// Bounds on the work one body may cause; the body's size is bounded by
// --max-body before it is read. These are constants, not options: 1000
// parts is PHP's max_input_vars (and 50 times its max_file_uploads), and
// 8 KiB is nginx's limit for one request header line. A form that needs
// more is better sent as something else than multipart/form-data.
struct multipart_limits {
    std::size_t max_parts = 1000;
    std::size_t max_header_block = 8192;  // one part's headers, in bytes
};

struct multipart_part {
    std::string name;             // Content-Disposition's name
    std::string filename;         // its filename, when has_filename
    bool has_filename = false;    // a file upload (even with filename=""), not a field
    std::string_view content_type;  // the part's Content-Type, as sent; empty when absent
    std::string_view data;        // into the body
};

// The boundary of a multipart/form-data CONTENT_TYPE. A failure
// (bad_input) when the media type is another one, the boundary is missing,
// empty, longer than 70 characters, or has characters RFC 2046 does not allow.
outcome<std::string> multipart_boundary(std::string_view content_type);

// Whether CONTENT_TYPE's media type is multipart/form-data (any case,
// any parameters).
bool is_multipart_form_data(std::string_view content_type);

// REQUIRES: BOUNDARY came from multipart_boundary (non-empty).
// The parts of BODY in order, or a failure (bad_input) with the reason.
outcome<std::vector<multipart_part>> parse_multipart(std::string_view body, std::string_view boundary,
                                                     const multipart_limits& limits = {});

}  // namespace replug

#endif
