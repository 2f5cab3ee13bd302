# The normalization convert does for Binance trades, written for jq (the baseline of make bench).
# Decimal text is canonicalized as text (no float round trip), like convert.
def canon: sub("(?<a>\\.[0-9]*[1-9])0+$"; "\(.a)") | sub("\\.0*$"; "") | sub("^0+(?<d>[0-9])"; "\(.d)");
def symbol: capture("^(?<b>.+?)(?<q>FDUSD|USDT|USDC|BUSD|TUSD|BTC|ETH|BNB|EUR|USD|TRY|KRW)$") | "\(.b)-\(.q)";
.local_ts as $lt | .data.data as $d
| select($d.e == "trade")
| "{\"type\":\"trade\",\"exchange\":\"binance\",\"symbol\":\"\($d.s | symbol)\",\"ts\":\($d.T * 1000),\"local_ts\":\($lt),\"id\":\"\($d.t)\",\"price\":\($d.p | canon),\"amount\":\($d.q | canon),\"side\":\"\(if $d.m then "sell" else "buy" end)\"}"
