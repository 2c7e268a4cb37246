// Admin tokens kept in files, read the same way by replugd
// (--admin-token-file) and replugctl (--token-file): the first line without
// surrounding white space; the rest of the file is free for comments. What
// makes a token acceptable is each program's to say.
#ifndef REPLUG_TOKEN_FILE_HPP
#define REPLUG_TOKEN_FILE_HPP

#include <sys/types.h>

#include <string>
#include <string_view>

#include "outcome.hpp"

namespace replug {

struct stored_token {
    std::string token;  // may be empty
    mode_t mode = 0;    // the file's mode as stat gives it; 0 when stat failed
};

// Reads the token in FILE, which the command-line option OPTION named. Fails
// (bad_input) with the reason "OPTION FILE: cannot read the file".
outcome<stored_token> read_stored_token(std::string_view option, const std::string& file);

}  // namespace replug

#endif
