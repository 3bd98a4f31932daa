#include "cli/local_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace ovl::cli {

std::optional<ip_address> local_address_toward(const endpoint& destination) {
    const bool v4 = destination.address.is_v4();
    const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_storage to{};
    socklen_t to_len = 0;
    if (v4) {
        auto& a = reinterpret_cast<sockaddr_in&>(to);
        a.sin_family = AF_INET;
        a.sin_port = htons(destination.port);
        std::memcpy(&a.sin_addr, destination.address.data(), 4);
        to_len = sizeof a;
    } else {
        auto& a = reinterpret_cast<sockaddr_in6&>(to);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(destination.port);
        std::memcpy(&a.sin6_addr, destination.address.data(), 16);
        to_len = sizeof a;
    }
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    std::optional<ip_address> result;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
        if (v4) {
            result = ip_address::v4(ntohl(reinterpret_cast<const sockaddr_in&>(local).sin_addr.s_addr));
        } else {
            std::array<std::uint8_t, 16> bytes{};
            std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6&>(local).sin6_addr, 16);
            result = ip_address::v6(bytes);
        }
    }
    ::close(fd);
    return result;
}

std::optional<ip_address> global_ipv6_source(const std::vector<endpoint>& toward) {
    std::vector<endpoint> destinations;
    for (const auto& ep : toward)
        if (ep.address.is_v6()) destinations.push_back(ep);
    for (const char* fallback : {"[2001:4860:4860::8888]:53", "[2001:db8::1]:53"}) destinations.push_back(*endpoint::parse(fallback));
    for (const auto& d : destinations)
        if (auto a = local_address_toward(d); a && a->is_global()) return a;
    return std::nullopt;
}

} // namespace ovl::cli
