# tests/bench/time-vs-n.gp - the chart of tests/bench/run: time to apply N migrations, per tool.
#   gnuplot -e "dir='tests/bench/results'" tests/bench/time-vs-n.gp
# reads dir/time-vs-n.dat (one block per tool and latency: N, seconds) and dir/time-vs-n.titles
# (the blocks' titles, quoted, on one line); writes dir/time-vs-n.png.
set terminal pngcairo size 1100,680 font "DejaVu Sans,10"
set output dir."/time-vs-n.png"
titles = system("cat '".dir."/time-vs-n.titles'")
set title "Applying N migrations to an empty database (PostgreSQL 15; median wall time; solid 0 ms, dashed 1 ms round trip)"
set xlabel "migrations (N)"
set ylabel "seconds (log scale)"
set logscale xy
set xrange [70:7000]
set xtics ("100" 100, "1,000" 1000, "5,000" 5000)
set format y "%g"
set grid xtics ytics mytics
set key outside right top
# blocks come in pairs per tool (0 ms, 1 ms): one colour per tool, dashed at 1 ms
colours = "#d62728 #ff7f0e #1f77b4 #2ca02c #9467bd #8c564b"
do for [i=0:words(titles)-1] {
    c = word(colours, int(i/2) % 6 + 1)
    if (i % 2) { set style line i+1 lw 2 lc rgb c pt 6 dt 2 } else { set style line i+1 lw 2 lc rgb c pt 7 dt 1 }
}
plot for [i=0:words(titles)-1] dir."/time-vs-n.dat" index i using 1:2 with linespoints ls i+1 title word(titles, i+1)
