# tests/integration/netns.sh: hosts as network namespaces made by the test
# (sourced after lib.sh). Skips the test (exit 77) where namespaces cannot
# be made. netns_hosts NAME...: a namespace per host with its address
# HOST[NAME] = 10.77.0.N on lo; netns_link X Y NET: a veth pair between
# hosts X and Y on 10.77.NET.0/24 with routes to each other's address,
# and tc netem $NETNS_NETEM on both ends where the kernel has netem
# (NETEM=0 otherwise); in_ns NAME CMD...: run CMD on host NAME.

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIPPED: network namespaces need root and iproute2 (ip netns)"
    exit 77
fi
TAG="tm$$"
if ! ip netns add "$TAG-probe" 2>/dev/null; then
    echo "SKIPPED: this machine does not allow network namespaces"
    exit 77
fi
ip netns del "$TAG-probe"

declare -A HOST
NETEM=1
NETNS_NETEM=${NETNS_NETEM-"delay 20ms loss 1%"}

netns_hosts() {
    local n i=1
    for n in "$@"; do
        HOST[$n]=10.77.0.$i
        i=$((i + 1))
        ip netns add "$TAG-$n"
        NETNS_LIST+=("$TAG-$n")
        ip -n "$TAG-$n" link set lo up
        ip -n "$TAG-$n" addr add "${HOST[$n]}/32" dev lo
    done
}

netns_link() {
    local x=$1 y=$2 net=$3
    ip link add "v$x$y" type veth peer name "v$y$x"
    ip link set "v$x$y" netns "$TAG-$x"
    ip link set "v$y$x" netns "$TAG-$y"
    ip -n "$TAG-$x" addr add "10.77.$net.1/24" dev "v$x$y"
    ip -n "$TAG-$y" addr add "10.77.$net.2/24" dev "v$y$x"
    ip -n "$TAG-$x" link set "v$x$y" up
    ip -n "$TAG-$y" link set "v$y$x" up
    ip -n "$TAG-$x" route add "${HOST[$y]}/32" via "10.77.$net.2"
    ip -n "$TAG-$y" route add "${HOST[$x]}/32" via "10.77.$net.1"
    [ -n "$NETNS_NETEM" ] || return 0
    local end
    for end in "$x v$x$y" "$y v$y$x"; do
        set -- $end
        # shellcheck disable=SC2086 # the netem arguments are words
        if ! ip netns exec "$TAG-$1" tc qdisc add dev "$2" root netem \
            $NETNS_NETEM 2>/dev/null; then
            NETEM=0
        fi
    done
}

in_ns() { # in_ns NODE CMD...: run CMD in NODE's namespace
    local n=$1
    shift
    ip netns exec "$TAG-$n" "$@"
}
