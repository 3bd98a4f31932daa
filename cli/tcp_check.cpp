#include "cli/tcp_check.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ovl::cli {

bool tcp_reachable(const endpoint& to, duration timeout, std::string& why) {
    if (!to.address.is_v4()) {
        why = "only IPv4 is checked";
        return false;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = std::strerror(errno);
        return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(to.port);
    ::inet_pton(AF_INET, to.address.to_string().c_str(), &addr.sin_addr);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
        ok = true;
    } else if (errno != EINPROGRESS) {
        why = std::strerror(errno);
    } else {
        pollfd p{fd, POLLOUT, 0};
        const auto ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
        int n;
        do n = ::poll(&p, 1, ms);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            why = "timed out";
        } else {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            ok = err == 0;
            if (!ok) why = std::strerror(err);
        }
    }
    ::close(fd);
    return ok;
}

} // namespace ovl::cli
