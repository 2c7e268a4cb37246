// Small text conversions shared by the pieces that read files and report
// on them.
#ifndef REPLUG_TEXT_HPP
#define REPLUG_TEXT_HPP

#include <sys/types.h>

#include <string>
#include <string_view>

namespace replug {

// TEXT without leading and trailing spaces, tabs, CR and LF.
std::string trim(std::string_view text);

// The permission bits of MODE as four octal digits, "0644".
std::string octal_mode(mode_t mode);

}  // namespace replug

#endif
