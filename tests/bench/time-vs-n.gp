# tests/bench/time-vs-n.gp - the chart of tests/bench/run: time to apply N migrations, per tool.
#   gnuplot -e "dir='tests/bench/results'" tests/bench/time-vs-n.gp
# reads dir/time-vs-n.dat (one block per tool and latency: N, seconds), dir/time-vs-n.titles
# (the blocks' titles, quoted, on one line) and dir/time-vs-n.styles (per block: the tool's
# index, the latency's index); writes dir/time-vs-n.png.
set terminal pngcairo size 1200,720 font "DejaVu Sans,10"
set output dir."/time-vs-n.png"
titles = system("cat '".dir."/time-vs-n.titles'")
styles = system("cat '".dir."/time-vs-n.styles'")
set title "Applying N migrations to an empty database (PostgreSQL 15; median wall time; solid 0 ms, dashed and dotted through the latency proxy)"
set xlabel "migrations (N)"
set ylabel "seconds (log scale)"
set logscale xy
set xrange [70:14000]
set xtics ("100" 100, "1,000" 1000, "5,000" 5000, "10,000" 10000)
set format y "%g"
set grid xtics ytics mytics
set key outside right top
# one colour per tool, one dash type per latency (solid, dashed, dotted)
colours = "#d62728 #ff7f0e #000000 #1f77b4 #2ca02c #9467bd #8c564b"
do for [i=0:words(titles)-1] {
    c = word(colours, int(word(styles, 2*i+1)) % 7 + 1)
    d = int(word(styles, 2*i+2)) % 3 + 1
    set style line i+1 lw 2 lc rgb c pt 7 dt d
}
plot for [i=0:words(titles)-1] dir."/time-vs-n.dat" index i using 1:2 with linespoints ls i+1 title word(titles, i+1)
