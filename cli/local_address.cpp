#include "cli/local_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace ovl::cli {

std::optional<ip_address> local_address_toward(const endpoint& destination) {
    if (!destination.address.is_v4()) return std::nullopt;
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(destination.port);
    if (::inet_pton(AF_INET, destination.address.to_string().c_str(), &to.sin_addr) != 1) {
        ::close(fd);
        return std::nullopt;
    }
    sockaddr_in local{};
    socklen_t len = sizeof local;
    std::optional<ip_address> result;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0)
        result = ip_address::v4(ntohl(local.sin_addr.s_addr));
    ::close(fd);
    return result;
}

} // namespace ovl::cli
