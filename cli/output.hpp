// How commands report: results on stdout (text, or exactly one JSON object with --json),
// failures as one line on stderr plus {"ok":false,"error":...} in JSON mode.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ovl::cli {

class output {
public:
    explicit output(bool json) : json_(json) {}

    bool json() const { return json_; }
    // Prints the reason and returns the exit status for a failure (1).
    int fail(const std::string& reason) const;
    // Prints the result (JSON object with "ok":true, or `text`) and returns 0.
    int succeed(nlohmann::json result, const std::string& text) const;
    // Progress lines of long-running commands; JSON mode prints one object at the end.
    void progress(const std::string& text) const;
    // One JSON object per line, for commands that report a stream of events.
    void event(const nlohmann::json& object) const;
    static void print(const std::string& line);

private:
    bool json_;
};

} // namespace ovl::cli
