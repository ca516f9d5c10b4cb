# Shared by the test scripts (sourced, not run): timing from bash's own clock.
# shellcheck shell=bash

# now_us prints the time in microseconds (no fork per reading).
now_us() {
	local t=${EPOCHREALTIME/./}
	echo $((10#$t))
}

# since T prints the seconds elapsed since T (from now_us), one decimal.
since() {
	local d=$(($(now_us) - $1))
	printf '%d.%d s' $((d / 1000000)) $((d % 1000000 / 100000))
}
