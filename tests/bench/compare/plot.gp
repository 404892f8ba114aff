# SPDX-License-Identifier: MIT
# Plots for tests/bench/compare/run.sh; run in the output folder after
# report.py wrote the .dat files:  gnuplot plot.gp
load "plot.inc"

set terminal pngcairo size 1000,620 enhanced font "DejaVu Sans,11" noenhanced
set datafile missing "?"
set grid lc rgb "#dddddd"
set key top left box opaque
set border lc rgb "#555555"
set xlabel "services in the table / rules (N)"
set logscale x 10
set xrange [0.7:40000]
set xtics ("1" 1, "10" 10, "100" 100, "1k" 1000, "5k" 5000, "10k" 10000, "20k" 20000)
set label 99 machine at screen 0.01, 0.015 font ",8" tc rgb "#777777"
set bmargin 5

c_direct = "#444444"; c_ldmesh = "#1b9e77"; c_nft = "#7570b3"; c_ipt = "#d95f02"; c_hosts = "#e7298a"

# 1. connect latency
set output "connect_latency.png"
set title "connect()+close() latency vs number of services (solid p50, dashed p99)"
set ylabel "microseconds (log)"
set logscale y 10
plot "connect.dat" u 1:2 w lp lw 2 pt 7 lc rgb c_direct t "direct to pod IP p50", \
     ""            u 1:3 w l  lw 1 dt 2 lc rgb c_direct t "direct p99", \
     ""            u 1:4 w lp lw 2 pt 5 lc rgb c_ldmesh t "ldmesh (preload) p50", \
     ""            u 1:5 w l  lw 1 dt 2 lc rgb c_ldmesh t "ldmesh p99", \
     ""            u 1:6 w lp lw 2 pt 9 lc rgb c_nft t "kube-proxy nftables p50", \
     ""            u 1:7 w l  lw 1 dt 2 lc rgb c_nft t "nftables p99", \
     ""            u 1:8 w lp lw 2 pt 11 lc rgb c_ipt t "kube-proxy iptables p50", \
     ""            u 1:9 w l  lw 1 dt 2 lc rgb c_ipt t "iptables p99"

# 2. requests per second
set output "requests_per_second.png"
set title "short connections: connect, request, response, close (one client)"
set ylabel "requests per second"
unset logscale y
set yrange [0:*]
set key bottom left
plot "rps.dat" u 1:2 w lp lw 2 pt 7 lc rgb c_direct t "direct to pod IP", \
     ""        u 1:3 w lp lw 2 pt 5 lc rgb c_ldmesh t "ldmesh (preload)", \
     ""        u 1:4 w lp lw 2 pt 9 lc rgb c_nft t "kube-proxy nftables", \
     ""        u 1:5 w lp lw 2 pt 11 lc rgb c_ipt t "kube-proxy iptables"
set autoscale y

# 3. programming latency
set output "programming_latency.png"
set title "one endpoint added -> first connect that reaches it"
set ylabel "milliseconds (log)"
set logscale y 10
set key top left
plot "program.dat" u 1:2 w lp lw 2 pt 5 lc rgb c_ldmesh t "ldmesh: manifest -> inotify -> publish -> connect", \
     ""            u 1:3 w lp lw 2 pt 9 lc rgb c_nft t "nftables: incremental nft -f", \
     ""            u 1:4 w lp lw 2 pt 11 lc rgb c_ipt t "iptables: full iptables-restore"

# 4. name resolution
set output "name_resolution.png"
set title "getaddrinfo() of a service FQDN (p50)"
set ylabel "microseconds (log)"
plot "resolve.dat" u 1:2 w lp lw 2 pt 5 lc rgb c_ldmesh t "ldmesh (preload, snapshot)", \
     ""            u 1:3 w lp lw 2 pt 13 lc rgb c_hosts t "/etc/hosts with N lines", \
     ""            u 1:4 w lp lw 2 pt 7 lc rgb c_direct t "dnsmasq on 127.0.0.1"

# 5. bulk throughput
set output "bulk_throughput.png"
unset logscale
unset xlabel
set xrange [-0.6:3.6]
set xtics auto
set yrange [0:*]
set title sprintf("bulk throughput over one long connection (N = %d)", bulk_n)
set ylabel "Gbit/s"
set style fill solid 0.8 border -1
set boxwidth 0.6
set key off
plot "bulk.dat" u 0:2:(0.6):($0 == 0 ? 0x444444 : $0 == 1 ? 0x1b9e77 : $0 == 2 ? 0x7570b3 : 0xd95f02):xtic(1) \
        w boxes lc rgb variable, \
     ""         u 0:2:(sprintf("%.1f", $2)) w labels offset 0,0.8
