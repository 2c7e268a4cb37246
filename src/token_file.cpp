#include "token_file.hpp"

#include <sys/stat.h>

#include <fstream>

#include "text.hpp"

namespace replug {

outcome<stored_token> read_stored_token(std::string_view option, const std::string& file) {
    std::ifstream input(file);
    if (!input) return failure{std::string(option) + " " + file + ": cannot read the file", failure_kind::bad_input};
    stored_token result;
    if (struct stat info {}; ::stat(file.c_str(), &info) == 0) result.mode = info.st_mode;
    std::string line;
    std::getline(input, line);
    result.token = trim(line);
    return result;
}

}  // namespace replug
