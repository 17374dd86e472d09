module beamline/bench/peers/go

go 1.19
