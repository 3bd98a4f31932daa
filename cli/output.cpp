#include "cli/output.hpp"

#include <cstdio>

namespace ovl::cli {

int output::fail(const std::string& reason) const {
    std::fprintf(stderr, "overlay: error: %s\n", reason.c_str());
    if (json_) print(nlohmann::json{{"ok", false}, {"error", reason}}.dump());
    return 1;
}

int output::succeed(nlohmann::json result, const std::string& text) const {
    if (json_) {
        result["ok"] = true;
        print(result.dump());
    } else {
        print(text);
    }
    return 0;
}

void output::progress(const std::string& text) const {
    if (!json_) print(text);
}

void output::event(const nlohmann::json& object) const { print(object.dump()); }

void output::print(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace ovl::cli
