module github.com/ugnos/ugnos/bench

go 1.26.0

replace github.com/ugnos/ugnos => ../
