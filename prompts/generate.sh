#!/usr/bin/env bash
# Regenerates the shipped German prompts (8 kHz mono 16-bit WAV) with espeak-ng
# and the hold track with sox. Needs: apt-get install espeak-ng sox.
# Replace any file with a studio recording of the same format to customise.
set -euo pipefail
cd "$(dirname "$0")/de"
say() { espeak-ng -v de -s 150 "$2" -w "/tmp/$1.wav" && sox "/tmp/$1.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1.wav"; }
say greeting "Willkommen beim Servicecenter 115, Ihrer Behördennummer. Bitte haben Sie einen Moment Geduld, der nächste freie Platz ist für Sie reserviert."
for m in Hannover Burgdorf Lehrte Garbsen Wunstorf; do
  l=$(echo "$m" | tr 'A-Z' 'a-z')
  say "greeting-$l" "Willkommen beim Servicecenter 115 für $m. Bitte haben Sie einen Moment Geduld, der nächste freie Platz ist für Sie reserviert."
done
say feature-login "Sie sind angemeldet."
say feature-logout "Sie sind abgemeldet."
say feature-pause "Pause."
say feature-ready "Sie sind bereit."
say feature-wrapup "Nachbereitung verlängert."
say feature-failed "Diese Funktion ist jetzt nicht möglich."
say position-intro "Sie sind an Position"
say wait-intro "Die voraussichtliche Wartezeit beträgt etwa"
say wait-lt1 "weniger als eine Minute."
say wait-1min "eine Minute."
say minutes "Minuten."
say more-than-20 "mehr als zwanzig"
words=(null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn zwanzig)
for i in $(seq 1 20); do say "num-$i" "${words[$i]}"; done
say closed "Das Servicecenter 115 ist zurzeit nicht besetzt. Sie erreichen uns montags bis freitags von 8 bis 18 Uhr."
say crisis-greeting "Sie sind mit der Krisenhotline verbunden. Bitte haben Sie einen Moment Geduld."
say busy "Alle Leitungen sind zurzeit belegt. Bitte rufen Sie später wieder an."
say department-closed "Diese Stelle ist zurzeit nicht besetzt. Bitte verbinden Sie zu den Öffnungszeiten."
say menu-burgdorf "Für die Öffnungszeiten des Bürgerbüros drücken Sie die 1. Für alle anderen Anliegen drücken Sie die 2."
say menu-invalid "Diese Eingabe ist leider ungültig."
say hours-buergerbuero-burgdorf "Das Bürgerbüro Burgdorf ist montags, mittwochs und freitags von 8 bis 12 Uhr und dienstags und donnerstags von 8 bis 18 Uhr geöffnet. Auf Wiederhören."
say num-0 "null"
say callback-offer "Wenn wir Sie zurückrufen sollen, drücken Sie die 1. Ihr Platz in der Warteschlange bleibt erhalten."
say callback-number "Wir rufen Sie unter dieser Nummer zurück:"
say callback-confirm "Drücken Sie die 1 zur Bestätigung, oder die 2, um eine andere Nummer einzugeben."
say callback-enter "Bitte geben Sie Ihre Rufnummer mit Vorwahl ein, und drücken Sie danach die Raute-Taste."
say callback-thanks "Vielen Dank. Wir rufen Sie zurück, sobald Sie an der Reihe sind. Auf Wiederhören."
say callback-agent "Rückruf. Die Bürgerin oder der Bürger wird jetzt angerufen."
say unknown-origin "Ihre Region ist leider noch nicht an das Servicecenter 115 angeschlossen."
# Hold track: a soft C-Am-F-G arpeggio, 16 s, synthesised (no rights involved).
parts=(); i=0
for chord in "261.63 329.63 392.00 523.25" "220.00 261.63 329.63 440.00" "174.61 220.00 261.63 349.23" "196.00 246.94 293.66 392.00"; do
  for _ in 1 2; do for f in $chord; do
    i=$((i+1)); sox -n -r 8000 -c 1 -b 16 "/tmp/n$i.wav" synth 0.5 sine "$f" fade q 0.02 0.5 0.3 vol 0.25; parts+=("/tmp/n$i.wav")
  done; done
done
sox "${parts[@]}" hold.wav
