# The vendor server's benchmark drives it with wrk (Debian); its tests use PostgreSQL from
# 40-databases.sh and need nothing more.
need_apt wrk
