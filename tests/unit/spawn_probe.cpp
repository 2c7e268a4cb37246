// A program for spawn_test to start: it reports on its stdout, one fact a
// line, what it was started with: argv, environment, every open fd and what
// it refers to, its blocked and ignored signals (hex masks from
// /proc/self/status), its PR_SET_PDEATHSIG and its parent. An argument
// "write:FD:TEXT" first writes TEXT at the start of FD.
#include <dirent.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string argument = argv[i];
        if (argument.rfind("write:", 0) != 0) continue;
        auto colon = argument.find(':', 6);
        int fd = std::atoi(argument.substr(6, colon - 6).c_str());
        std::string text = argument.substr(colon + 1);
        if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) return 2;
    }

    std::string report = "argv";
    for (int i = 0; i < argc; ++i) report += std::string(" [") + argv[i] + "]";
    report += "\n";
    for (char** variable = environ; *variable; ++variable) report += std::string("env ") + *variable + "\n";

    DIR* directory = ::opendir("/proc/self/fd");
    if (!directory) return 3;
    std::map<int, std::string> fds;
    while (dirent* entry = ::readdir(directory)) {
        if (entry->d_name[0] == '.') continue;
        int fd = std::atoi(entry->d_name);
        if (fd == ::dirfd(directory)) continue;
        char target[4096];
        ssize_t n = ::readlinkat(::dirfd(directory), entry->d_name, target, sizeof target);
        fds[fd] = n < 0 ? std::string("?") : std::string(target, static_cast<std::size_t>(n));
    }
    ::closedir(directory);
    for (const auto& [fd, target] : fds) report += "fd " + std::to_string(fd) + " " + target + "\n";

    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("SigBlk:", 0) == 0) report += "blocked " + line.substr(line.find_first_not_of(" \t", 7)) + "\n";
        if (line.rfind("SigIgn:", 0) == 0) report += "ignored " + line.substr(line.find_first_not_of(" \t", 7)) + "\n";
    }
    int death_signal = -1;
    ::prctl(PR_GET_PDEATHSIG, &death_signal);
    report += "pdeathsig " + std::to_string(death_signal) + "\n";
    report += "ppid " + std::to_string(::getppid()) + "\n";
    std::cout << report << std::flush;
    return std::cout ? 0 : 4;
}
