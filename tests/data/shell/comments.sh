#!/bin/sh
# header comment

# section one
echo 1; echo 2
echo 3

# section two

echo 4
# trailing comment

